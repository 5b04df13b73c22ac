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

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('coengine')
    .description('WebGPU tensor/autograd engine for CO-SSL self-supervised vision training (Dawn on Node.js).')
    .version('0.1.0')
    .showHelpAfterError();
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
