// `coengine bench kernels` (bench/kernels.ts) on a few quick rows: each row carries what the
// issue asks for (kernel, shape, ms, GFLOP/s, GB/s, max relative error vs a reference) plus the
// spread of its timed batches; --only takes several comma-separated patterns; --sweep adds one
// GEMM row per tile config, each checked like the others.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runKernelBench } from '../../bench/kernels.js';
import { gpuBackendOrSkip } from '../helpers/gpu.js';

test('bench kernels --quick: rows with timing, rates and error; several --only patterns', async () => {
  if (!(await gpuBackendOrSkip('bench kernels'))) return;
  // a comma followed by a space belongs to the pattern (labels hold "[512, 64]")
  const rows = await runKernelBench({ quick: true, json: false, only: 'gemm 256x,bn.moments small [512, 64]', reps: 1 });
  assert.equal(rows.map((r) => r.kernel), ['gemm', 'bn.moments']);
  for (const r of rows) {
    assert.ok(r.ms > 0 && Number.isFinite(r.ms), `${r.kernel}: ms ${r.ms}`);
    assert.ok(r.gflops !== null && r.gflops > 0 && r.gbps !== null && r.gbps > 0, `${r.kernel}: rates ${r.gflops}, ${r.gbps}`);
    assert.ok(r.maxRelErr >= 0 && r.maxRelErr < 1e-4, `${r.kernel}: error ${r.maxRelErr}`);
    assert.ok(r.spread >= 1 && Number.isFinite(r.spread), `${r.kernel}: spread ${r.spread}`);
  }
  // GEMM: 2·M·N·K flops over ms
  assert.ok(Math.abs(rows[0].gflops! - (2 * 256 ** 3) / rows[0].ms / 1e6) < 1e-6 * rows[0].gflops!);
});

test('bench kernels --quick --sweep: one checked GEMM row per tile config', async () => {
  if (!(await gpuBackendOrSkip('bench kernels'))) return;
  const rows = await runKernelBench({ quick: true, json: false, only: 'gemm[direct32],gemm[shared32]', reps: 1, sweep: true });
  assert.equal(rows.map((r) => r.kernel), ['gemm[direct32]', 'gemm[shared32]']);
  for (const r of rows) assert.ok(r.shape.startsWith('512x512x512') && r.maxRelErr < 1e-5, `${r.kernel} ${r.shape}: ${r.maxRelErr}`);
});

test('bench kernels --layers: every distinct convolution of a backbone, set against GEMM n³', async () => {
  if (!(await gpuBackendOrSkip('bench kernels'))) return;
  const rows = await runKernelBench({
    quick: true, json: false, reps: 1, layers: 'resnet18', batch: 1, size: 32, gemmReference: 128,
    only: 'resnet18 conv1 ,resnet18 layer1.0.conv1 (×4) ,resnet18 layer2.0.downsample.0 ',
  });
  // The reference first, then the stem (no backward-data: nothing needs the image's gradient),
  // layer 1's 3×3 (four layers of one shape: one set of rows), the strided 1×1 shortcut.
  assert.equal(rows.map((r) => `${r.kernel} ${r.shape}`), [
    'gemm 128x128x128 AB', 'gemm 128x128x128 ABᵀ', 'gemm 128x128x128 AᵀB',
    'conv2d.fwd resnet18 conv1 1x32x32x3 k7 s2 →64', 'conv2d.dw resnet18 conv1 1x32x32x3 k7 s2 →64',
    'conv2d.fwd resnet18 layer1.0.conv1 (×4) 1x8x8x64 k3 s1 →64', 'conv2d.dx resnet18 layer1.0.conv1 (×4) 1x8x8x64 k3 s1 →64',
    'conv2d.dw resnet18 layer1.0.conv1 (×4) 1x8x8x64 k3 s1 →64',
    'conv2d.fwd resnet18 layer2.0.downsample.0 1x8x8x64 k1 s2 →128', 'conv2d.dx resnet18 layer2.0.downsample.0 1x8x8x64 k1 s2 →128',
    'conv2d.dw resnet18 layer2.0.downsample.0 1x8x8x64 k1 s2 →128',
  ]);
  const best = Math.max(...rows.slice(0, 3).map((r) => r.gflops!));
  for (const r of rows) {
    assert.ok(r.maxRelErr < 1e-4, `${r.kernel} ${r.shape}: error ${r.maxRelErr}`);
    assert.ok(Math.abs(r.ofGemm! - r.gflops! / best) < 1e-9, `${r.kernel} ${r.shape}: ofGemm ${r.ofGemm}`);
  }
});

test('bench kernels: --batch and --size without --layers are refused, not ignored', async () => {
  await runKernelBench({ quick: true, json: false, batch: 8 }).then(
    () => assert.unreachable('accepted --batch without --layers'),
    (e: Error) => assert.match(e.message, /--batch and --size size the --layers rows/));
});

test.run();
