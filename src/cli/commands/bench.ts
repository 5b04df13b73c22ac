// `coengine bench kernels`: per-kernel GPU timings and correctness on ResNet-50 / RF99-ResNet50
// shapes (bench/kernels.ts).
import type { Command } from 'commander';
import { runKernelBench } from '../../../bench/kernels.js';

export function registerBench(program: Command): Command {
  const bench = program.command('bench').description('Benchmarks (GPU kernels).');
  bench
    .command('kernels')
    .description('Time GEMM, convolution (forward, backward-data, backward-weight), batch norm and max-pool kernels ' +
      'on ResNet-50 / RF99-ResNet50 shapes at batch 64, 224 px, with a correctness check per kernel.')
    .option('--quick', 'small shapes that finish in about a minute on lavapipe (checked against the CPU backend)')
    .option('--json', 'print each row as a line of JSON ({kernel, shape, ms, gflops, gbps, maxRelErr}) as it finishes, and nothing else on stdout')
    .option('--only <substrings>', 'run only kernels whose "kernel shape" label contains this text, or one of several comma-separated (e.g. gemm, conv2d.dw, "conv2d.fwd R50,conv2d.dx R50"; a comma followed by a space belongs to the text, as in "[512, 64]")')
    .option('--reps <n>', 'timed repetitions per batch (after a checked warm-up run and an untimed burst that raises the GPU clocks; the median of 3 batches is reported)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new Error(`--reps must be a positive integer, got '${v}'`);
      return n;
    })
    .option('--sweep', 'also time GEMM 4096³ (512³ with --quick) under every tile config the device can run')
    .action(async (o: { quick?: boolean; json?: boolean; only?: string; reps?: number; sweep?: boolean }) => {
      await runKernelBench({ quick: !!o.quick, json: !!o.json, only: o.only, reps: o.reps, sweep: !!o.sweep });
    });
  return bench;
}
