// `coengine bench kernels`: per-kernel GPU timings and correctness on ResNet-50 / RF99-ResNet50
// shapes (bench/kernels.ts).
import { Option, type Command } from 'commander';
import { LAYER_SHARE_OF_GEMM, runKernelBench } from '../../../bench/kernels.js';
import { presetNames } from '../../models/presets.js';
import { positiveInteger } from '../options.js';


export function registerBench(program: Command): Command {
  const bench = program.command('bench').description('Benchmarks (GPU kernels).');
  bench
    .command('kernels')
    .description('Time GEMM, convolution (forward, backward-data, backward-weight), batch norm and max-pool kernels ' +
      'on ResNet-50 / RF99-ResNet50 shapes at batch 64, 224 px (or every convolution of a backbone: --layers), with a correctness check per kernel.')
    .option('--quick', 'small shapes that finish in about a minute on lavapipe (checked against the CPU backend)')
    .option('--json', 'print each row as a line of JSON ({kernel, shape, ms, gflops, gbps, maxRelErr, spread}, and ofGemm with --gemm-reference) as it finishes, and nothing else on stdout')
    .option('--only <substrings>', 'run only kernels whose "kernel shape" label contains this text, or one of several comma-separated (e.g. gemm, conv2d.dw, "conv2d.fwd R50,conv2d.dx R50"; a comma followed by a space belongs to the text, as in "[512, 64]")')
    .option('--reps <n>', 'timed repetitions per batch (after a checked warm-up run and an untimed burst that raises the GPU clocks; the median of 3 batches is reported)', positiveInteger)
    .option('--sweep', 'also time GEMM 4096³ (512³ with --quick) under every tile config the device can run')
    .addOption(new Option('--layers <arch>', 'instead of the default rows: every distinct convolution shape of this backbone, ' +
      'forward, backward-data (not for the first layer: nothing needs the image\'s gradient) and backward-weight, each on the ' +
      'kernels and tiles training would pick (e.g. --layers resnet50 --gemm-reference 4096: each ResNet-50 layer against the GEMM rate)').choices(presetNames()))
    .option('--batch <n>', 'with --layers: images per call (default 64; 2 with --quick)', positiveInteger)
    .option('--size <px>', 'with --layers: image size (default 224; 64 with --quick)', positiveInteger)
    .option('--gemm-reference <n>', 'first time GEMM n³ (AB, ABᵀ, AᵀB, e.g. 4096), then give every row its rate as a share of ' +
      `the best of the three, marking those under ${100 * LAYER_SHARE_OF_GEMM}% (JSON: ofGemm)`, positiveInteger)
    .action(async (o: { quick?: boolean; json?: boolean; only?: string; reps?: number; sweep?: boolean; layers?: string; batch?: number; size?: number; gemmReference?: number }) => {
      await runKernelBench({ quick: !!o.quick, json: !!o.json, only: o.only, reps: o.reps, sweep: !!o.sweep,
        layers: o.layers, batch: o.batch, size: o.size, gemmReference: o.gemmReference });
    });
  return bench;
}
