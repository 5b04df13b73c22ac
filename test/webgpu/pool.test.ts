// Max-pool parity vs the CPU backend: values, argmax (h·W + w within the image plane, first
// maximum wins ties, padding never wins) and the backward's gather over overlapping windows.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu } from '../../src/backend/registry.js';
import type { PoolParams } from '../../src/backend/backend.js';
import { convOutSize } from '../../src/runtime/shape.js';
import { maxPool2d, maxPool2dBackward } from '../../src/backend/webgpu/ops/pool.js';
import { assertClose, cpuData, cpuRaw, gpuRaw, randomF32, readF32, readI32, runtime, skipNotice } from './kernel_parity.js';

interface Case { N: number; H: number; W: number; C: number; k: number; s: number; p: number; ties?: boolean }

const cases: Case[] = [
  { N: 2, H: 9, W: 7, C: 5, k: 3, s: 2, p: 1 },             // ResNet stem pool, odd map, overlapping windows
  { N: 1, H: 8, W: 8, C: 4, k: 2, s: 2, p: 0 },             // tiling windows
  { N: 1, H: 6, W: 11, C: 3, k: 3, s: 1, p: 1 },            // stride 1: every input in up to 9 windows
  { N: 2, H: 5, W: 5, C: 2, k: 3, s: 2, p: 1, ties: true }, // quantised values: ties everywhere
  // C % 4 == 0: four channels per thread (forward4 / backward4)
  { N: 2, H: 9, W: 7, C: 8, k: 3, s: 2, p: 1 },
  { N: 1, H: 6, W: 11, C: 12, k: 3, s: 1, p: 1 },
  { N: 3, H: 5, W: 6, C: 4, k: 3, s: 2, p: 1, ties: true },
  { N: 1, H: 7, W: 7, C: 16, k: 2, s: 3, p: 0 },            // stride past the window: inputs no window covers
];

test('forward values and argmax, backward gradient match the CPU backend', async () => {
  const ctx = await runtime();
  if (!ctx) return skipNotice('pool.test');
  let seed = 1;
  for (const c of cases) {
    const p: PoolParams = { kernel: [c.k, c.k], stride: [c.s, c.s], pad: [c.p, c.p] };
    const xShape = [c.N, c.H, c.W, c.C];
    const Ho = convOutSize(c.H, c.k, c.s, c.p), Wo = convOutSize(c.W, c.k, c.s, c.p);
    const nx = c.N * c.H * c.W * c.C, ny = c.N * Ho * Wo * c.C;
    let X = randomF32(nx, seed++);
    if (c.ties) X = X.map((v) => Math.round(v * 2) / 2);
    const G = randomF32(ny, seed++);
    const tag = JSON.stringify(c);

    const ref = cpu().maxPool2d(cpuRaw(X, xShape), p);
    const got = maxPool2d(ctx, gpuRaw(ctx, X, xShape), p);
    assertClose(`maxPool2d y ${tag}`, await readF32(ctx, got.y, ny), await cpuData(ref.y, [ny]), 0);
    assert.equal(Array.from(await readI32(ctx, got.argmax, ny)), Array.from(await cpuData(ref.argmax, [ny], 'i32')), `argmax ${tag}`);

    const yShape = [c.N, Ho, Wo, c.C];
    const dxWant = await cpuData(cpu().maxPool2dBackward(cpuRaw(G, yShape), { storage: ref.argmax, shape: yShape, dtype: 'i32' }, xShape), [nx]);
    const dx = maxPool2dBackward(ctx, gpuRaw(ctx, G, yShape), { storage: got.argmax, shape: yShape, dtype: 'i32' }, xShape);
    assertClose(`maxPool2dBackward ${tag}`, await readF32(ctx, dx, nx), dxWant, 1e-6);
  }
});

test('all-negative inputs: padding never wins', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  for (const C of [2, 4]) { // one channel per thread, four per thread
    const X = randomF32(C * 4 * 4, 77).map((v) => -1 - Math.abs(v));
    const p: PoolParams = { kernel: [3, 3], stride: [2, 2], pad: [1, 1] };
    const got = await readF32(ctx, maxPool2d(ctx, gpuRaw(ctx, X, [1, 4, 4, C]), p).y, 4 * C);
    assert.ok(got.every((v) => v < -1), `C=${C}: pooled values should all be real inputs (< -1), got ${Array.from(got)}`);
  }
});

test('backward without the forward\'s geometry is refused with a clear error', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  const am = gpuRaw(ctx, new Int32Array(4), [1, 2, 2, 1]);
  assert.throws(() => maxPool2dBackward(ctx, gpuRaw(ctx, new Float32Array(4), [1, 2, 2, 1]), am, [1, 4, 4, 1]), /window geometry/);
});

test.run();
