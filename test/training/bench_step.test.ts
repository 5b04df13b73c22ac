// `coengine bench step` (bench/step.ts) on a tiny model: the figures it reports are consistent
// (timed steps, back-to-back steps, host encoding, dispatch count, no buffer created in the steady
// state) on the WebGPU backend, and on the CPU backend it reports no device-only figures; --tune
// makes a GEMM tuning table the timed steps then use.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runStepBench, type StepBenchOptions } from '../../bench/step.js';
import { gpuBackendOrSkip, gpuHandle } from '../helpers/gpu.js';
import { isSoftwareDevice } from '../../src/backend/webgpu/ops/gemm.js';
import { loadGemmTuning, setGemmTuning, siteOfLabel } from '../../src/backend/webgpu/ops/gemm_tuning.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const tiny = (device: StepBenchOptions['device']): StepBenchOptions => ({
  method: 'co-byol', arch: 'rf29-resnet10', width: 0.0625, smallStem: true, batch: 4, size: 16,
  // Three warm-up steps: the third builds the memory plan (webgpu/memory_plan.ts), which may create buffers.
  projHidden: 16, projOut: 8, localGrid: 0, steps: 2, warmup: 3, device,
});

test('bench step on WebGPU: awaited and back-to-back timings, encoding share, steady state', async () => {
  if (!(await gpuBackendOrSkip('bench step'))) return;
  const r = await runStepBench(tiny('webgpu'));
  assert.ok(r.msPerStep > 0 && Number.isFinite(r.msPerStep), `ms/step ${r.msPerStep}`);
  assert.ok(r.pipelinedMsPerStep > 0 && Number.isFinite(r.pipelinedMsPerStep), `back-to-back ms/step ${r.pipelinedMsPerStep}`);
  assert.ok(Math.abs(r.imagesPerSecond - 4000 / r.msPerStep) < 1e-6 * r.imagesPerSecond);
  assert.ok(r.encodeMsPerStep > 0 && r.encodeMsPerStep < r.msPerStep, `encoding ${r.encodeMsPerStep} of ${r.msPerStep} ms`);
  assert.ok(r.encodeFraction !== null && r.encodeFraction > 0);
  assert.ok((r.dispatchesPerStep ?? 0) > 100, `${r.dispatchesPerStep} dispatches`);
  assert.equal(r.buffersCreatedInSteadyState, 0);
  assert.ok((r.peakBytes ?? 0) > 0);
});

test('bench step --memory-peak: what the step holds at its peak, by the model lines that allocated it', async () => {
  if (!(await gpuBackendOrSkip('bench step'))) return;
  const r = await runStepBench({ ...tiny('webgpu'), steps: 1, memoryPeak: true });
  const m = r.memoryPeak;
  assert.ok(m, 'a report');
  assert.ok(m.peakBytes > 0 && m.peakBytes <= (r.memoryPlan?.planBytes ?? 0), `peak ${m.peakBytes}, plan ${r.memoryPlan?.planBytes}`);
  assert.is(m.groups.reduce((a, g) => a + g.bytes, 0), m.peakBytes);
  // The traced step ran on the plan rebuilt from the last trace: nothing diverged.
  assert.is(r.memoryPlan?.diverged, 0);
  // Activations saved for backward: the residual blocks' convolutions and batch norms.
  assert.ok(m.groups.some((g) => /^ops\/\w+\.[jt]s:\d+ ← .*models\/blocks\.[jt]s:\d+/.test(g.origin)), m.groups.map((g) => g.origin).join('; '));
});

test('bench step profiles: by kernel, or by kernel and shape (one row per convolution layer)', async () => {
  if (!(await gpuBackendOrSkip('bench step'))) return;
  const byKernel = (await runStepBench({ ...tiny('webgpu'), steps: 1, warmup: 1, profile: true })).profile ?? [];
  const byShape = (await runStepBench({ ...tiny('webgpu'), steps: 1, warmup: 1, profileShapes: true })).profile ?? [];
  // Forward convolutions: implicit GEMM on GPUs, im2col + GEMM on CPU implementations.
  const conv = byKernel.find((r) => r.name === 'conv2d' || r.name === 'conv2d im2col');
  assert.ok(conv, `a forward convolution row among ${byKernel.map((r) => r.name).join('; ')}`);
  const layers = byShape.filter((r) => r.name.startsWith(`${conv.name} [`));
  assert.ok(layers.length > 1, `one row per shape: ${layers.map((r) => r.name).join('; ')}`);
  assert.equal(layers.reduce((a, r) => a + r.count, 0), conv.count);
  // Work: GEMM-like rows declare theirs (the rate column), others none; grouping keeps the sum.
  for (const r of byShape) {
    if (/^(matmul|conv2d (\[|dx \[|dw \[))/.test(r.name) && !/reduce/.test(r.name)) assert.ok(r.flops > 0, `${r.name}: flops ${r.flops}`);
    if (/^batchnorm/.test(r.name)) assert.equal(r.flops, 0, r.name);
  }
  const work = (rows: typeof byKernel) => rows.reduce((a, r) => a + r.flops, 0);
  assert.ok(work(byShape) > 0 && Math.abs(work(byShape) - work(byKernel)) < 1e-9 * work(byKernel));
  const count = (rows: typeof byKernel) => rows.reduce((a, r) => a + r.count, 0);
  assert.equal(count(byShape), count(byKernel), 'the same dispatches, grouped differently');
});

test('bench step --gemm-reference: GEMM n³ in the same process, each profiled GEMM row as a share of the best', async () => {
  if (!(await gpuBackendOrSkip('bench step'))) return;
  const r = await runStepBench({ ...tiny('webgpu'), steps: 1, warmup: 1, profileShapes: true, gemmReference: 64 });
  const g = r.gemmReference;
  assert.ok(g, 'a reference');
  assert.equal(g.rows.map((x) => x.shape), ['64x64x64 AB', '64x64x64 ABᵀ', '64x64x64 AᵀB']);
  for (const x of g.rows) assert.ok(x.tflops > 0 && x.maxRelErr < 1e-5, JSON.stringify(x));
  assert.is(g.bestTflops, Math.max(...g.rows.map((x) => x.tflops)));
  const rows = r.profile ?? [];
  assert.ok(rows.some((p) => p.flops > 0));
  for (const p of rows) {
    if (p.flops > 0) assert.ok(Math.abs((p.ofGemm ?? NaN) - p.flops / p.ms / 1e9 / g.bestTflops) < 1e-9 * (p.ofGemm ?? 1), p.name);
    else assert.is(p.ofGemm, undefined, p.name);
  }
});

test('bench step --gpu-routing: the GPU code paths on any adapter (implicit convolutions, not im2col)', async () => {
  if (!(await gpuBackendOrSkip('bench step'))) return;
  const names = (r: Awaited<ReturnType<typeof runStepBench>>) => (r.profile ?? []).map((p) => p.name);
  const routed = names(await runStepBench({ ...tiny('webgpu'), steps: 1, warmup: 1, profile: true, gpuRouting: true }));
  assert.ok(routed.includes('conv2d') && !routed.includes('conv2d im2col'), routed.join('; '));
  // and the routing is restored afterwards: a software adapter goes back to im2col
  const h = await gpuHandle();
  if (h && isSoftwareDevice(h.runtime)) {
    const plain = names(await runStepBench({ ...tiny('webgpu'), steps: 1, warmup: 1, profile: true }));
    assert.ok(plain.includes('conv2d im2col'), plain.join('; '));
  }
});

test('bench step --tune: a table over the step\'s GEMMs, written to a file and used by the timed steps', async () => {
  const h = await gpuHandle();
  if (!h || !h.runtime.features.has('timestamp-query')) return;
  const file = join(mkdtempSync(join(tmpdir(), 'coengine-tune-')), 'table.json');
  try {
    // margin −∞: every site takes the faster of the two that is not its heuristic tile, so the
    // table covers the whole step and the check below sees every site
    const r = await runStepBench({ ...tiny('webgpu'), steps: 1, warmup: 1, profileShapes: true, tune: file, tuneTiles: ['direct8x8', 'direct32'], tuneMargin: -Infinity });
    const t = r.tuning!;
    const table = loadGemmTuning(file);
    assert.equal(t.candidates, ['direct8x8', 'direct32']);
    assert.equal(t.skipped, []);
    assert.is(t.changed, Object.keys(table.sites).length);
    assert.ok(t.sites > 10 && t.changed === t.sites && t.tunedMs > 0, JSON.stringify(t));
    // The profiled step ran each tuned site on its table's tile.
    const ran = new Map((r.profile ?? []).filter((p) => p.flops > 0).map((p) => [siteOfLabel(p.name), p.name.replace(/^.* @/, '')]));
    for (const [site, s] of Object.entries(table.sites)) assert.is(ran.get(site), s.tile, site);
    await runStepBench({ ...tiny('webgpu'), steps: 1, warmup: 1, tune: '/nonexistent/dir/t.json' }).then(
      () => assert.unreachable('tuned into a folder that does not exist'), (e: Error) => assert.match(e.message, /cannot write into \/nonexistent\/dir/));
  } finally {
    setGemmTuning(null);
  }
});

test('bench step on the CPU backend: no device-time share, no dispatch count, and --memory-peak refused up front', async () => {
  const r = await runStepBench({ ...tiny('cpu'), steps: 1, warmup: 1 });
  assert.ok(r.msPerStep > 0 && r.pipelinedMsPerStep > 0);
  assert.equal(r.encodeFraction, null);
  assert.equal(r.dispatchesPerStep, null);
  try {
    await runStepBench({ ...tiny('cpu'), steps: 1, warmup: 1, memoryPeak: true });
    assert.unreachable('--memory-peak ran on the CPU backend');
  } catch (e) {
    assert.match((e as Error).message, /--memory-peak needs the WebGPU backend/);
  }
});

test.run();
