// `coengine bench step`: one whole training step of a method and model (bench/step.ts).
import { Command, Option } from 'commander';
import { METHOD_NAMES } from '../../methods/method.js';
import { presetNames } from '../../models/presets.js';
import { positiveInteger, nonNegativeInteger, positiveNumber } from '../options.js';


export function registerBenchStep(bench: Command): void {
  bench.command('step')
    .description('Time one full training step (augment 2 views, online forward+backward, target forward, probes, ' +
      'optimiser, EMA) on random images: ms/step and images/s with each step awaited and with steps submitted back to ' +
      'back as training does, the median host time to record a step, peak device bytes.')
    .addOption(new Option('--method <name>', 'SSL method').choices(METHOD_NAMES).default('co-byol'))
    .addOption(new Option('--arch <name>', 'backbone').choices(presetNames()).default('resnet50'))
    .option('--batch <n>', 'images per step', positiveInteger, 64)
    .option('--size <px>', 'view size', positiveInteger, 224)
    .option('--width <w>', 'backbone channel multiplier', positiveNumber, 1)
    .option('--small-stem', '3×3 stride-1 stem without max-pool')
    .option('--proj-hidden <n>', 'head hidden width', positiveInteger, 4096)
    .option('--proj-out <n>', 'projection dimension', positiveInteger, 256)
    .option('--local-grid <n>', 'local positions pooled to n×n (0: all)', nonNegativeInteger, 0)
    .option('--steps <n>', 'timed steps', positiveInteger, 5)
    .option('--warmup <n>', 'untimed steps first (pipeline compilation, pool fill, bind groups, JIT); host encoding reaches its steady state after about 10', nonNegativeInteger, 10)
    .addOption(new Option('--device <d>', 'backend').choices(['auto', 'webgpu', 'cpu']).default('auto'))
    .option('--profile', 'also time each kernel over one step (GPU timestamps) and list the most expensive')
    .option('--profile-shapes', 'like --profile, but one row per kernel and shape (e.g. each convolution layer); the stable way to time a layer, as it runs in training')
    .option('--gemm-reference <n>', 'WebGPU: also time GEMM n³ (AB, ABᵀ, AᵀB, e.g. 4096) after the step; with --profile or ' +
      '--profile-shapes, show each GEMM row\'s rate as a share of the best of the three, marking those under 60%', positiveInteger)
    .option('--tune <file>', 'WebGPU: first tune the step\'s GEMM tiles (profiled steps with the heuristic\'s tiles, before and after, and one per ' +
      'candidate tile forced on every GEMM; per GEMM shape, another tile at least 3% faster than the heuristic\'s), write ' +
      'the table to FILE and time the steps with it; later runs use it with `coengine --gemm-tuning FILE <command>` (same adapter)')
    .option('--tune-tiles <names>', 'with --tune: the candidate tiles, comma-separated (default: ten shared-memory tiles on GPUs, ' +
      'the barrier-free ones on CPU implementations of WebGPU)', (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean))
    .option('--gpu-routing', 'on a CPU implementation of WebGPU (lavapipe), take the code paths chosen for GPUs: dispatch counts and labels as a GPU records them (timings mean nothing)')
    .option('--memory-peak', 'WebGPU: after the timed steps, record one more step noting where each allocation is made, and list what ' +
      'the step holds at its peak memory, by source line (op ← callers)')
    .option('--no-step-replay', 'record every step (as with pretrain --no-step-replay): the host time that step replay saves')
    .option('--json', 'print the result as one JSON object')
    .action(async (o) => {
      const { runStepBench } = await import('../../../bench/step.js');
      const r = await runStepBench({ method: o.method, arch: o.arch, batch: o.batch, size: o.size, width: o.width, smallStem: !!o.smallStem,
        projHidden: o.projHidden, projOut: o.projOut, localGrid: o.localGrid, steps: o.steps, warmup: o.warmup, device: o.device, profile: !!o.profile, profileShapes: !!o.profileShapes, gpuRouting: !!o.gpuRouting, stepReplay: o.stepReplay !== false,
        gemmReference: o.gemmReference || undefined, tune: o.tune, tuneTiles: o.tuneTiles, memoryPeak: !!o.memoryPeak });
      if (o.json) { process.stdout.write(JSON.stringify(r) + '\n'); return; }
      process.stdout.write(`${r.method} ${r.arch} batch ${r.batch} @${r.size}px on ${r.device}: ${r.msPerStep.toFixed(1)} ms/step, ` +
        `${r.imagesPerSecond.toFixed(1)} img/s; back to back ${r.pipelinedMsPerStep.toFixed(1)} ms/step, ${r.pipelinedImagesPerSecond.toFixed(1)} img/s` +
        (r.encodeFraction !== null ? `, host encoding ${r.encodeMsPerStep.toFixed(1)} ms (${(100 * r.encodeFraction).toFixed(1)}% of device time)` : '') +
        (r.peakBytes !== null ? `, peak ${(r.peakBytes / 2 ** 30).toFixed(2)} GiB in use` : '') +
        (r.allocatedBytes !== null ? ` (${(r.allocatedBytes / 2 ** 30).toFixed(2)} GiB allocated` +
          (r.memoryPlan?.built ? `, of which the step's memory plan ${(r.memoryPlan.arenaBytes / 2 ** 30).toFixed(2)} GiB, ` +
            `its least possible ${(r.memoryPlan.lowerBound / 2 ** 30).toFixed(2)}` : '') + ')' : '') +
        (r.buffersCreatedInSteadyState !== null ? `, ${r.buffersCreatedInSteadyState} buffers created in steady state` : '') +
        (r.dispatchesPerStep !== null ? `, ${r.dispatchesPerStep} dispatches/step` : '') +
        `, ${r.replayedSteps} of ${o.steps} timed steps replayed` + '\n');
      if (r.tuning) {
        const t = r.tuning;
        process.stdout.write(`GEMM tuning (${t.candidates.length} candidate tiles): ${t.changed} of ${t.sites} GEMM shapes take another tile; ` +
          `GPU time of all ${t.sites} by the profiles ${t.heuristicMs.toFixed(2)} → ${t.tunedMs.toFixed(2)} ms per step; table written to ${t.file}\n` +
          t.skipped.map((x) => `  skipped ${x}\n`).join(''));
      }
      // TFLOP/s on GPUs, GFLOP/s on CPU implementations of WebGPU.
      const fmtRate = (tflops: number) => (tflops >= 1 ? `${tflops.toFixed(1)} TFLOP/s` : `${(1000 * tflops).toFixed(1)} GFLOP/s`);
      const g = r.gemmReference;
      if (g) {
        process.stdout.write(`GEMM ${g.n}³: ${g.rows.map((x) => `${x.shape.split(' ')[1]} ${fmtRate(x.tflops)}`).join(', ')} ` +
          `(max rel. error ${Math.max(...g.rows.map((x) => x.maxRelErr)).toExponential(1)}); 60% of the best: ${fmtRate(0.6 * g.bestTflops)}\n`);
      }
      const mp = r.memoryPeak;
      if (mp) {
        const mb = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
        process.stdout.write(`Memory at the step's peak: ${mb(mp.peakBytes)} live (the step's memory plan: ${mb(r.memoryPlan?.planBytes ?? 0)}), ` +
          `by where it was allocated:\n`);
        for (const g of mp.groups.slice(0, 20)) {
          process.stdout.write(`  ${mb(g.bytes).padStart(11)} ${(100 * g.bytes / mp.peakBytes).toFixed(1).padStart(5)}%  ${String(g.count).padStart(4)}×  ${g.origin}\n`);
        }
        const rest = mp.groups.slice(20);
        if (rest.length) process.stdout.write(`  ${mb(rest.reduce((a, g) => a + g.bytes, 0)).padStart(11)} in ${rest.length} smaller groups\n`);
      }
      if (r.profile) {
        const total = r.profile.reduce((a, p) => a + p.ms, 0);
        process.stdout.write(`GPU time by kernel over one step (${total.toFixed(1)} ms timed):\n`);
        for (const p of r.profile.slice(0, o.profileShapes ? 60 : 25)) {
          const rate = (p.flops > 0 && p.ms > 0 ? fmtRate(p.flops / p.ms / 1e9) : '').padStart(15);
          const share = !g ? '' : p.ofGemm === undefined ? ' '.repeat(10) : `${(100 * p.ofGemm).toFixed(0).padStart(4)}%${p.ofGemm < 0.6 ? ' <60' : '    '} `;
          process.stdout.write(`  ${p.ms.toFixed(2).padStart(9)} ms ${(100 * p.ms / total).toFixed(1).padStart(5)}%  ${String(p.count).padStart(5)}×  ${rate}  ${share}${p.name}\n`);
        }
        // --profile-shapes lists the first 60 rows; those below the bar may be further down.
        const under = g ? r.profile.slice(o.profileShapes ? 60 : 25).filter((p) => p.ofGemm !== undefined && p.ofGemm < 0.6) : [];
        if (under.length) process.stdout.write(`  and ${under.length} smaller rows under 60%: ${under.map((p) => `${p.name} (${(100 * (p.ofGemm ?? 0)).toFixed(0)}%)`).join('; ')}\n`);
      }
    });
}
