// The `coengine` command tree. Each subcommand lives in commands/<name>.ts and registers itself
// here; main.ts parses the process arguments with it (tests walk the tree).
import { Command } from 'commander';
import { registerInfo } from './commands/info.js';
import { registerArch } from './commands/arch.js';
import { registerFlops } from './commands/flops.js';
import { registerData } from './commands/data.js';
import { registerPretrain } from './commands/pretrain.js';
import { registerPlot } from './commands/plot.js';
import { registerBench } from './commands/bench.js';
import { registerBenchStep } from './commands/bench_step.js';
import { registerBenchData } from '../../bench/data.js';
import { enableDawnToggle } from '../backend/webgpu/device.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('coengine')
    .description('WebGPU tensor/autograd engine for CO-SSL self-supervised vision training (Dawn on Node.js).')
    .version('0.1.0')
    .option('--no-robustness', 'run the kernels without the bounds clamps Dawn adds to every memory access (on an ' +
      'H100: a ~5% faster training step, ~6% faster GEMMs; bench/RESULTS.md). The kernels index in bounds by construction and pass ' +
      'their parity tests without the clamps; an indexing bug would then read arbitrary memory instead of a clamped ' +
      'element.')
    .showHelpAfterError()
    // Before any command opens a device (Dawn takes its toggles when the instance is created).
    .hook('preAction', () => { if (program.opts().robustness === false) enableDawnToggle('disable_robustness'); });
  registerInfo(program);
  registerArch(program);
  registerFlops(program);
  registerData(program);
  registerPretrain(program);
  registerPlot(program);
  const bench = registerBench(program);
  registerBenchStep(bench);
  registerBenchData(bench);
  return program;
}
