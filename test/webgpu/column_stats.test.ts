// Batch-norm statistics made in the GEMM epilogue (matmul_core.wgsl COL_STATS, finalised by
// batchnorm_finalize.wgsl CHAN): a convolution asked for them (columnStats / the batchNormGroups
// hint) attaches per-row-tile (mean, M2) partials to its output, and batchStatistics then uses
// them instead of reading the output again. Checked against the CPU backend's statistics of
// the same convolution on every GEMM path (implicit k×k, 1×1 as a plain GEMM, im2col), direct
// and shared-memory tiles, ragged last tiles, channel counts that are not multiples of 4, two
// groups of rows whose tiles do and do not line up with the groups (then none are made), many
// chunks per finalisation lane, and a large mean; plus: the fusion really replaces the pass,
// statistics are used once and only for the grouping they were made for, a write or release of
// the output drops them, and networks take the fused path in training (and none in eval mode).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu } from '../../src/backend/registry.js';
import type { Conv2dParams } from '../../src/backend/backend.js';
import { convOutSize } from '../../src/runtime/shape.js';
import { conv2d } from '../../src/backend/webgpu/ops/conv.js';
import { batchStatistics } from '../../src/backend/webgpu/ops/norm.js';
import { COLUMN_STATS, GEMM_TILES, overrideSoftwareDevice, setColumnStatsFusion } from '../../src/backend/webgpu/ops/gemm.js';
import type { GpuStorage } from '../../src/backend/webgpu/context.js';
import type { GpuRuntime } from '../../src/backend/webgpu/runtime.js';
import { assertClose, cpuData, cpuRaw, gpuRaw, randomF32, readF32, readI32, runtime, skipNotice } from './kernel_parity.js';
import { gpuBackendOrSkip, gpuHandle } from '../helpers/gpu.js';
import { createBackbone } from '../../src/models/index.js';
import { withBatchGroups } from '../../src/nn/batch_groups.js';
import { backward, mul, sum, tensor } from '../../src/ops/index.js';
import { Rng } from '../../src/runtime/rng.js';

// The fusion is opt-in (COENGINE_FUSE_BN_STATS=1: on an H100 it cost the GEMMs about what it
// saved batch norm); these tests turn it on for this file, whatever the environment says.
let fusionBefore = false;
test.before(() => { fusionBefore = setColumnStatsFusion(true); });
test.after(() => { setColumnStatsFusion(fusionBefore); });

interface Case { N: number; H: number; W: number; C: number; Co: number; k: number; s: number; p: number; G: number; tile?: string; path?: 'implicit' | 'im2col' }

const cases: Case[] = [
  // implicit k×k, default tiles; 2 groups of 4·4·4 = 64 rows each
  { N: 8, H: 4, W: 4, C: 8, Co: 12, k: 3, s: 1, p: 1, G: 2 },
  // ragged last tile (2·5·7 = 70 rows), odd channel counts (scalar loads and stats writes)
  { N: 2, H: 5, W: 7, C: 5, Co: 7, k: 3, s: 1, p: 1, G: 1, path: 'implicit' },
  // 1×1 stride 1: the plain GEMM (matmul.wgsl)
  { N: 4, H: 8, W: 8, C: 16, Co: 24, k: 1, s: 1, p: 0, G: 2 },
  // im2col + GEMM, stem-like 7×7/2 on 3 channels
  { N: 2, H: 15, W: 13, C: 3, Co: 8, k: 7, s: 2, p: 3, G: 1, path: 'im2col' },
  // shared-memory tiles (GPU routing), several shapes of thread grid
  { N: 2, H: 16, W: 16, C: 8, Co: 64, k: 3, s: 1, p: 1, G: 2, tile: 'shared64p' },
  { N: 2, H: 16, W: 16, C: 8, Co: 64, k: 3, s: 1, p: 1, G: 2, tile: 'shared128bk8p' },
  // 8 columns per thread (two groups of 4, 64 columns apart), both in range: the tree merges all
  // of a thread's column groups per level; ragged and odd on the second
  { N: 2, H: 16, W: 16, C: 8, Co: 131, k: 3, s: 1, p: 1, G: 2, tile: 'shared128bk8p' },
  { N: 2, H: 8, W: 8, C: 8, Co: 100, k: 3, s: 1, p: 1, G: 2, tile: 'direct8x128' },
  // 16 columns per thread (four groups)
  { N: 2, H: 16, W: 16, C: 8, Co: 250, k: 1, s: 1, p: 0, G: 2, tile: 'shared128x256' },
  { N: 3, H: 9, W: 10, C: 4, Co: 70, k: 3, s: 2, p: 1, G: 1, tile: 'shared128x64' },
  { N: 2, H: 16, W: 16, C: 8, Co: 20, k: 1, s: 1, p: 0, G: 2, tile: 'shared32p' },
  // warp-blocked thread layouts: the tree over thread rows follows positions, not thread order
  { N: 2, H: 16, W: 16, C: 8, Co: 70, k: 3, s: 1, p: 1, G: 2, tile: 'shared16x64pw' },
  { N: 4, H: 8, W: 8, C: 8, Co: 16, k: 3, s: 1, p: 1, G: 2, tile: 'direct128x8' },
  { N: 2, H: 8, W: 8, C: 8, Co: 16, k: 3, s: 1, p: 1, G: 2, tile: 'direct8x128' },
  // two groups of 36 rows: 32-row tiles would straddle them, so none are made and batch norm
  // makes its own
  { N: 2, H: 6, W: 6, C: 4, Co: 8, k: 3, s: 1, p: 1, G: 2, tile: 'direct32' },
  // many chunks (8-row tiles), ragged last: the finalisation's lanes each merge several, with 16,
  // 64 and 128 lanes per channel on GPUs
  { N: 3, H: 13, W: 13, C: 3, Co: 5, k: 3, s: 1, p: 1, G: 1, tile: 'direct8x8' },
  { N: 1, H: 70, W: 70, C: 3, Co: 4, k: 3, s: 1, p: 1, G: 1, tile: 'direct8x8' },
  { N: 2, H: 96, W: 97, C: 1, Co: 4, k: 3, s: 1, p: 1, G: 1, tile: 'direct8x8' },
];

function label(c: Case): string {
  return `${c.N}×${c.H}×${c.W}×${c.C}→${c.Co} k${c.k} s${c.s} G${c.G}${c.tile ? ` ${c.tile}` : ''}${c.path ? ` ${c.path}` : ''}`;
}

/** Statistics of conv(x) on the GPU (asked for column statistics) and on the CPU backend. */
async function check(ctx: GpuRuntime, c: Case, offset = 0): Promise<{ fused: boolean }> {
  const p: Conv2dParams = { stride: [c.s, c.s], pad: [c.p, c.p] };
  const Ho = convOutSize(c.H, c.k, c.s, c.p), Wo = convOutSize(c.W, c.k, c.s, c.p);
  const rows = c.N * Ho * Wo;
  const X = randomF32(c.N * c.H * c.W * c.C, rows + c.Co).map((v, i) => v + offset + (c.G > 1 && i >= (c.N * c.H * c.W * c.C) / 2 ? 1 : 0));
  const Wt = randomF32(c.Co * c.C * c.k * c.k, c.Co).map((v) => (offset ? Math.abs(v) : v));
  const xShape = [c.N, c.H, c.W, c.C], wShape = [c.Co, c.C, c.k, c.k];
  const y = conv2d(ctx, gpuRaw(ctx, X, xShape), gpuRaw(ctx, Wt, wShape), null, p,
    { columnStats: c.G, tile: c.tile ? GEMM_TILES[c.tile] : undefined, path: c.path }) as GpuStorage;
  const cy = cpu().conv2d(cpuRaw(X, xShape), cpuRaw(Wt, wShape), null, p);
  const yRows = cpuRaw(Float32Array.from(await cpuData(cy, [rows * c.Co])), [rows, c.Co]);
  // The GPU's own output, so only the statistics are compared (conv parity is conv.test's).
  const gy = await readF32(ctx, y, rows * c.Co);
  assertClose(`conv ${label(c)}`, gy, await cpuData(yRows.storage, [rows * c.Co]), 1e-4);

  const rm = randomF32(c.Co, 1), rv = randomF32(c.Co, 2).map((v) => 1 + Math.abs(v)), count = Int32Array.from([3]);
  const cr = { mean: cpuRaw(rm, [c.Co]), variance: cpuRaw(rv, [c.Co]), count: cpuRaw(count, []), momentum: 0.1, n: rows / c.G };
  const gr = { mean: gpuRaw(ctx, rm, [c.Co]), variance: gpuRaw(ctx, rv, [c.Co]), count: gpuRaw(ctx, count, []), momentum: 0.1, n: rows / c.G };
  const before = ctx.stats().dispatches;
  const gs = batchStatistics(ctx, { storage: y, shape: [rows, c.Co], dtype: 'f32' }, 1e-5, gr, c.G);
  const fused = ctx.stats().dispatches - before === 1; // the finalisation alone, no partial-sums pass
  const cs = cpu().batchStatistics(cpuRaw(gy, [rows, c.Co]), 1e-5, cr, c.G);
  const n = c.G * c.Co, tag = label(c);
  assertClose(`mean ${tag}`, await readF32(ctx, gs.mean, n), await cpuData(cs.mean, [n]), 1e-5);
  assertClose(`invstd ${tag}`, await readF32(ctx, gs.invstd, n), await cpuData(cs.invstd, [n]), 1e-4);
  assertClose(`running mean ${tag}`, await readF32(ctx, gr.mean.storage, c.Co), await cpuData(cr.mean.storage, [c.Co]), 1e-5);
  assertClose(`running var ${tag}`, await readF32(ctx, gr.variance.storage, c.Co), await cpuData(cr.variance.storage, [c.Co]), 1e-4);
  assert.equal((await readI32(ctx, gr.count.storage, 1))[0], 3 + c.G, `batch counter ${tag}`);
  for (const s of [y, gs.mean, gs.invstd, gr.mean.storage, gr.variance.storage, gr.count.storage]) ctx.release(s as GpuStorage);
  return { fused };
}

test('batch statistics from the GEMM epilogue match the CPU backend on every GEMM path and tile shape', async () => {
  const ctx = await runtime();
  if (!ctx) return skipNotice('column_stats.test');
  overrideSoftwareDevice(ctx, false); // the tiles' own code paths; forced tiles ignore routing
  try {
    for (const c of cases) {
      const { fused } = await check(ctx, c);
      const straddles = c.tile === 'direct32';
      assert.equal(fused, !straddles, `${label(c)}: ${straddles ? 'tiles straddle the groups: expected the fallback pass' : 'expected the fused statistics'}`);
    }
  } finally { overrideSoftwareDevice(ctx, null); }
});

test('the same with lavapipe\'s own routing (direct tiles, im2col for few channels)', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  for (const c of cases.filter((k) => !k.tile)) await check(ctx, c);
});

test('a large mean next to a small spread keeps its variance (per-thread means, Chan merges)', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  // Inputs around 100 and non-negative weights: outputs ~ 100·C·k² with a spread 1e-2 of that.
  await check(ctx, { N: 4, H: 8, W: 8, C: 4, Co: 8, k: 3, s: 1, p: 1, G: 2 }, 100);
  await check(ctx, { N: 4, H: 8, W: 8, C: 4, Co: 8, k: 3, s: 1, p: 1, G: 1, tile: 'shared64p' }, 100);
});

test('statistics made for one grouping are not used for another; a second batch norm of the same output makes its own', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  const [N, H, W, C, Co] = [2, 6, 6, 4, 8], rows = N * H * W; // 72 rows: 2 groups of 36
  const X = randomF32(N * H * W * C, 31), Wt = randomF32(Co * C * 9, 32);
  const x = gpuRaw(ctx, X, [N, H, W, C]), w = gpuRaw(ctx, Wt, [Co, C, 3, 3]);
  const y = conv2d(ctx, x, w, null, { stride: [1, 1], pad: [1, 1] }, { columnStats: 1, tile: GEMM_TILES.direct32 }) as GpuStorage;
  const gy = await readF32(ctx, y, rows * Co);
  for (const [G, wantFused] of [[2, false], [1, false]] as const) {
    // G = 2: the 32-row tiles straddle the groups; G = 1 afterwards: the statistics were dropped
    // by the first batch norm, which could not use them.
    const before = ctx.stats().dispatches;
    const gs = batchStatistics(ctx, { storage: y, shape: [rows, Co], dtype: 'f32' }, 1e-5, null, G);
    assert.equal(ctx.stats().dispatches - before === 1, wantFused, `G = ${G}: fused`);
    const cs = cpu().batchStatistics(cpuRaw(gy, [rows, Co]), 1e-5, null, G);
    assertClose(`mean G=${G}`, await readF32(ctx, gs.mean, G * Co), await cpuData(cs.mean, [G * Co]), 1e-5);
    assertClose(`invstd G=${G}`, await readF32(ctx, gs.invstd, G * Co), await cpuData(cs.invstd, [G * Co]), 1e-4);
    ctx.release(gs.mean as GpuStorage); ctx.release(gs.invstd as GpuStorage);
  }
  // Two batch norms of one output: the first takes the statistics, the second makes its own.
  const y2 = conv2d(ctx, x, w, null, { stride: [1, 1], pad: [1, 1] }, { columnStats: 1, tile: GEMM_TILES.direct32 }) as GpuStorage;
  const counts: number[] = [];
  for (let i = 0; i < 2; i++) {
    const before = ctx.stats().dispatches;
    const gs = batchStatistics(ctx, { storage: y2, shape: [rows, Co], dtype: 'f32' }, 1e-5, null, 1);
    counts.push(ctx.stats().dispatches - before);
    ctx.release(gs.mean as GpuStorage); ctx.release(gs.invstd as GpuStorage);
  }
  assert.equal(counts, [1, 2], 'dispatches of the two batch norms');
  for (const s of [y, y2, x.storage, w.storage]) ctx.release(s as GpuStorage);
});

test('a write to the output drops its statistics; views cannot carry any', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  const x = gpuRaw(ctx, randomF32(2 * 6 * 6 * 4, 41), [2, 6, 6, 4]), w = gpuRaw(ctx, randomF32(8 * 4 * 9, 42), [8, 4, 3, 3]);
  const inUse = ctx.stats().bytesInUse;
  const y = conv2d(ctx, x, w, null, { stride: [1, 1], pad: [1, 1] }, { columnStats: 1 }) as GpuStorage;
  ctx.write(y, new Float32Array(72 * 8));
  assert.equal(ctx.takeSidecar(y, COLUMN_STATS), null, 'statistics of the old contents are gone');
  ctx.release(y);
  assert.equal(ctx.stats().bytesInUse, inUse, 'and back in the pool');
  const base = ctx.alloc(1024);
  assert.throws(() => ctx.attachSidecar(ctx.view(base, 0, 512), { kind: COLUMN_STATS, storage: ctx.alloc(16), info: {} }), /not a view/);
  for (const s of [base, x.storage, w.storage]) ctx.release(s as GpuStorage);
});

test('with the fusion off, or no batch norm taking them, nothing is left behind', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  const c: Case = { N: 2, H: 6, W: 6, C: 4, Co: 8, k: 3, s: 1, p: 1, G: 1 };
  const prev = setColumnStatsFusion(false);
  try {
    assert.equal((await check(ctx, c)).fused, false, 'fusion off: batch norm makes its own partial sums');
  } finally { setColumnStatsFusion(prev); }
  assert.equal((await check(ctx, c)).fused, true, 'fusion on');
  // Released unused: the partials go back with their output.
  const X = randomF32(2 * 6 * 6 * 4, 9), W = randomF32(8 * 4 * 9, 10);
  const x = gpuRaw(ctx, X, [2, 6, 6, 4]), w = gpuRaw(ctx, W, [8, 4, 3, 3]);
  const inUse = ctx.stats().bytesInUse;
  const y = conv2d(ctx, x, w, null, { stride: [1, 1], pad: [1, 1] }, { columnStats: 1 }) as GpuStorage;
  const side = ctx.takeSidecar(y, COLUMN_STATS);
  assert.ok(side, 'the convolution attached its statistics');
  ctx.attachSidecar(y, side!);
  ctx.release(y);
  assert.equal(ctx.stats().bytesInUse, inUse, 'output and statistics both back in the pool');
  // A bias changes the stored values: no statistics are made.
  const b = gpuRaw(ctx, randomF32(8, 11), [8]);
  const yb = conv2d(ctx, x, w, b, { stride: [1, 1], pad: [1, 1] }, { columnStats: 1 }) as GpuStorage;
  assert.equal(ctx.takeSidecar(yb, COLUMN_STATS), null, 'no statistics with a bias');
  for (const s of [yb, x.storage, w.storage, b.storage]) ctx.release(s as GpuStorage);
});

test('a residual network in training mode takes the fused statistics; its outputs and gradients match the unfused run', async () => {
  const be = await gpuBackendOrSkip('column_stats.test');
  if (!be) return;
  const ctx = (await gpuHandle())!.runtime; // the backend's own runtime
  // Dispatch labels tell what ran: convolutions making statistics, fused finalisations, and
  // batch norm's own partial-sums passes.
  const seen = { stats: 0, fused: 0, own: 0 };
  const dispatch = ctx.dispatch.bind(ctx);
  ctx.dispatch = (p, b, u, g, label, f) => {
    if (label?.includes('+stats')) seen.stats++;
    if (label?.startsWith('batchnorm statistics (fused)')) seen.fused++;
    if (label?.startsWith('batchnorm moments partial')) seen.own++;
    dispatch(p, b, u, g, label, f);
  };
  const run = async (fuse: boolean, training = true): Promise<{ y: Float32Array; grads: Map<string, Float32Array>; seen: typeof seen }> => {
    const prev = setColumnStatsFusion(fuse);
    Object.assign(seen, { stats: 0, fused: 0, own: 0 });
    try {
      const model = createBackbone('resnet18', { backend: be, width: 0.25, smallStem: true, rng: new Rng(7) });
      if (training) model.train(); else model.eval();
      // Two views of 4 images, 16 px: every stage's rows split into two groups.
      const x = tensor(randomF32(8 * 16 * 16 * 3, 8), [8, 16, 16, 3], { backend: be });
      const y = withBatchGroups(2, () => model.forward(x));
      const grads = new Map<string, Float32Array>();
      if (training) {
        backward(sum(mul(y, y)));
        for (const [name, p] of model.namedParameters()) grads.set(name, await p.grad!.data() as Float32Array);
      }
      const out = { y: await y.data() as Float32Array, grads, seen: { ...seen } };
      x.dispose(); y.dispose();
      return out;
    } finally { setColumnStatsFusion(prev); }
  };
  try {
    overrideSoftwareDevice(ctx, false); // GPU tiles (shared memory)
    const on = await run(true), off = await run(false);
    overrideSoftwareDevice(ctx, null);
    const soft = await run(true); // lavapipe's own tiles and im2col paths
    // ResNet-18's 20 batch norms; at 2×2 px (4 rows per image, 16 per view) the last stage's row
    // tiles are larger than a view, so those make their own statistics, and only those.
    for (const [what, r] of [['GPU routing', on], ['lavapipe routing', soft]] as const) {
      assert.ok(r.seen.fused >= 15, `${what}: ${r.seen.fused} fused of 20`);
      assert.equal(r.seen.fused + r.seen.own, 20, `${what}: every batch norm accounted for`);
      assert.equal(r.seen.stats, r.seen.fused, `${what}: statistics made only where used`);
    }
    assert.equal(off.seen, { stats: 0, fused: 0, own: 20 }, 'fusion off');
    const evalMode = await run(true, false);
    assert.equal(evalMode.seen, { stats: 0, fused: 0, own: 0 }, 'eval mode: running statistics, none made');
    for (const [what, r] of [['GPU routing', on], ['lavapipe routing', soft]] as const) {
      assertClose(`output (${what})`, r.y, off.y, 1e-4);
      for (const [name, g] of off.grads) assertClose(`${name}.grad (${what})`, r.grads.get(name)!, g, 1e-4);
    }
  } finally {
    overrideSoftwareDevice(ctx, null);
    ctx.dispatch = dispatch;
  }
});

test.run();
