#!/usr/bin/env node
// The `coengine` command. Each subcommand lives in commands/<name>.ts and registers itself here.
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

program.parseAsync(process.argv).catch((err: unknown) => {
  const e = err as Error;
  process.stderr.write(`coengine: ${e.message ?? String(e)}\n`);
  if (process.env.COENGINE_DEBUG) process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
