// GEMM tuning tables (src/backend/webgpu/ops/gemm_tuning.ts, gemm_tuner.ts): sites from dispatch
// labels, split-K reduces counted with their GEMM, the choice against the heuristic, the file
// format and its checks; on the GPU, that every kind of GEMM (plain, split-K, convolution
// forward, input gradient direct and by stride phases, weight gradient) is looked up under the
// site its label names, so that a table measured from labels steers the same dispatches.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { matmul } from '../../src/backend/webgpu/ops/matmul.js';
import { conv2d, conv2dBackwardData, conv2dBackwardWeight } from '../../src/backend/webgpu/ops/conv.js';
import { GEMM_TILES, forcedGemmTile, overrideSoftwareDevice, setGemmTile } from '../../src/backend/webgpu/ops/gemm.js';
import { matmul as matmulOp, sum, tensor } from '../../src/ops/index.js';
import { tidy } from '../../src/tensor.js';
import { gpuHandle } from '../helpers/gpu.js';
import {
  chooseTunedTiles, deviceIdentity, loadGemmTuning, msPerSite, saveGemmTuning, setGemmTuning, siteOfLabel, type GemmTuningTable,
} from '../../src/backend/webgpu/ops/gemm_tuning.js';
import { tuneGemmTiles } from '../../src/backend/webgpu/ops/gemm_tuner.js';
import type { GpuRuntime } from '../../src/backend/webgpu/runtime.js';
import type { GpuStorage } from '../../src/backend/webgpu/context.js';
import { gpuRaw, randomF32, readF32, runtime, skipNotice } from './kernel_parity.js';

const dir = mkdtempSync(join(tmpdir(), 'coengine-tuning-'));

test('sites: labels without tile, split count or statistics suffix; split-K reduces count with their GEMM', () => {
  assert.is(siteOfLabel('matmul 1×64×64×401408 Aᵀ ×523 splits @shared64p'), 'matmul 1×64×64×401408 Aᵀ');
  assert.is(siteOfLabel('conv2d [128, 56, 56, 64]*[64, 64, 3, 3] s1×1 p1×1 +stats @shared64x128'), 'conv2d [128, 56, 56, 64]*[64, 64, 3, 3] s1×1 p1×1');
  assert.is(siteOfLabel('conv2d dw [2, 8, 8, 3]*[4, 3, 3, 3] s1×1 p0×0 ×1 splits @direct8x8'), 'conv2d dw [2, 8, 8, 3]*[4, 3, 3, 3] s1×1 p0×0');
  // A batch norm applied in the operand reads (batchNormConv2d) names the same site.
  assert.is(siteOfLabel('matmul 1×64×64×401408 ×523 splits +norm @shared64p'), 'matmul 1×64×64×401408');
  assert.is(siteOfLabel('conv2d [128, 56, 56, 64]*[64, 64, 3, 3] s1×1 p1×1 +stats +norm @shared64x128'), 'conv2d [128, 56, 56, 64]*[64, 64, 3, 3] s1×1 p1×1');
  const sites = msPerSite([
    { label: 'bn.normalize', ms: 5, flops: 0 },                              // before any GEMM: not a site
    { label: 'matmul 1×8×8×4096 Aᵀ ×16 splits @shared64p', ms: 1, flops: 2 },
    { label: 'matmul split-K reduce', ms: 0.25, flops: 0 },                 // belongs to the GEMM above
    { label: 'conv2d [1, 4, 4, 8]*[8, 8, 3, 3] s1×1 p1×1 +stats +norm @direct32', ms: 2, flops: 3 },
    { label: 'relu', ms: 7, flops: 0 },                                      // not a reduce: nobody's
    { label: 'matmul 1×8×8×4096 Aᵀ ×16 splits @shared64p', ms: 1, flops: 2 }, // the same site again: summed
    { label: 'matmul split-K reduce +epilogue', ms: 0.5, flops: 0 },
  ]);
  assert.equal([...sites], [
    ['matmul 1×8×8×4096 Aᵀ', { ms: 2.75, tile: 'shared64p', stats: false }],
    ['conv2d [1, 4, 4, 8]*[8, 8, 3, 3] s1×1 p1×1', { ms: 2, tile: 'direct32', stats: true }],
  ]);
});

test('the choice: the margin, the heuristic\'s own tile as another sample of it, fused statistics kept', () => {
  const at = (entries: [string, number, string, boolean?][]) => new Map(entries.map(([s, ms, tile, stats]) => [s, { ms, tile, stats: !!stats }]));
  // heuristic runs before and after the candidates: the faster of the two counts
  const heuristic = [at([['a', 12, 'h'], ['b', 10, 'h'], ['c', 10, 'h'], ['d', 10, 'h', true]]), at([['a', 10, 'h'], ['b', 11, 'h'], ['c', 10, 'h'], ['d', 10, 'h', true]])];
  const byCandidate = new Map([
    ['t1', at([['a', 9.0, 't1'], ['b', 9.8, 't1'], ['c', 12, 't1'], ['d', 5, 't1', false]])], // d: lost the statistics
    ['t2', at([['a', 8.5, 't2'], ['b', 9.75, 't2']])],                                           // c, d not measured
    ['h', at([['c', 9.0, 'h'], ['d', 9.9, 'h', true]])],                                         // the heuristic's own tile
  ]);
  const r = chooseTunedTiles(heuristic, byCandidate, 0.03);
  assert.equal(r.sites, { a: { tile: 't2', ms: 8.5, heuristicMs: 10 } });
  assert.equal([...r.heuristicMs], [['a', 10], ['b', 10], ['c', 9], ['d', 9.9]]);
  assert.equal(Object.keys(chooseTunedTiles(heuristic, byCandidate, 0).sites), ['a', 'b']);
});

test('table files: written whole, read back, and refused with a reason', () => {
  const file = join(dir, 'ok.json');
  const table: GemmTuningTable = { version: 1, device: 'some GPU', workload: 'w', created: 'now', candidates: ['shared64p'],
    sites: { 'matmul 1×2×3×4': { tile: 'shared64p', ms: 1, heuristicMs: 2 } } };
  saveGemmTuning(file, table);
  assert.equal(loadGemmTuning(file, Object.keys(GEMM_TILES)), table);
  const bad = (name: string, text: string, why: RegExp) => {
    writeFileSync(join(dir, name), text);
    assert.throws(() => loadGemmTuning(join(dir, name), Object.keys(GEMM_TILES)), why);
  };
  bad('tile.json', JSON.stringify({ ...table, sites: { s: { tile: 'shared999', ms: 1, heuristicMs: 1 } } }), /site 's' names tile "shared999", not one of/);
  bad('version.json', JSON.stringify({ ...table, version: 2 }), /version 2, expected 1/);
  bad('text.json', 'not json', /not JSON/);
  assert.throws(() => loadGemmTuning(join(dir, 'missing.json')), /no such file \(make one with coengine bench step --tune/);
});

interface StepOut { outs: GpuStorage[]; sizes: number[] }

/** One of every GEMM kind (strided input gradients by stride phases, and by the default route). */
function everyKind(ctx: GpuRuntime): StepOut {
  const x = gpuRaw(ctx, randomF32(2 * 9 * 9 * 8, 1), [2, 9, 9, 8]);
  const w = gpuRaw(ctx, randomF32(12 * 8 * 3 * 3, 2), [12, 8, 3, 3]);
  const p = { stride: [1, 1] as [number, number], pad: [1, 1] as [number, number] };
  const ps = { stride: [2, 2] as [number, number], pad: [1, 1] as [number, number] };
  const p1 = { stride: [1, 1] as [number, number], pad: [0, 0] as [number, number] };
  const w1 = gpuRaw(ctx, randomF32(12 * 8, 9), [12, 8, 1, 1]);
  const dy = gpuRaw(ctx, randomF32(2 * 9 * 9 * 12, 3), [2, 9, 9, 12]);
  const dys = gpuRaw(ctx, randomF32(2 * 5 * 5 * 12, 4), [2, 5, 5, 12]);
  const a = gpuRaw(ctx, randomF32(3000 * 16, 5), [3000, 16]), b = gpuRaw(ctx, randomF32(3000 * 20, 6), [3000, 20]);
  const c = gpuRaw(ctx, randomF32(40 * 30, 7), [40, 30]), d = gpuRaw(ctx, randomF32(30 * 24, 8), [30, 24]);
  const outs = [
    matmul(ctx, c, d, false, false),                              // plain
    matmul(ctx, a, b, true, false),                               // split over K = 3000
    conv2d(ctx, x, w, null, p),                                   // implicit-GEMM forward
    conv2dBackwardData(ctx, dy, w, [2, 9, 9, 8], p),              // input gradient, stride 1
    conv2dBackwardData(ctx, dys, w, [2, 9, 9, 8], ps, { path: 'implicit' }), // by stride phases
    conv2dBackwardWeight(ctx, x, dy, [12, 8, 3, 3], p),           // weight gradient, split over pixels
    conv2dBackwardData(ctx, dys, w, [2, 9, 9, 8], ps),            // strided, default route (a GEMM into patches, gathered)
    conv2d(ctx, x, w1, null, p1),                                 // 1×1: a plain GEMM
  ] as GpuStorage[];
  for (const r of [x, w, w1, dy, dys, a, b, c, d]) ctx.release(r.storage as GpuStorage);
  return { outs, sizes: [40 * 24, 16 * 20, 2 * 9 * 9 * 12, 2 * 9 * 9 * 8, 2 * 9 * 9 * 8, 12 * 8 * 9, 2 * 9 * 9 * 8, 2 * 9 * 9 * 12] };
}

async function labelsOf(ctx: GpuRuntime): Promise<{ gemms: string[]; values: Float32Array[] }> {
  let out: StepOut | null = null;
  const { dispatches } = await ctx.profileDispatches(() => { out = everyKind(ctx); }, (l) => l);
  const { outs, sizes } = out!;
  const values = await Promise.all(outs.map((s, i) => readF32(ctx, s, sizes[i])));
  for (const s of outs) ctx.release(s);
  return { gemms: dispatches.filter((d) => d.flops > 0).map((d) => d.label), values };
}

test('every GEMM kind is chosen under the site its label names; a table of another adapter is ignored', async () => {
  const ctx = await runtime();
  if (!ctx) return skipNotice('gemm_tuning.test');
  if (!ctx.features.has('timestamp-query')) return;
  overrideSoftwareDevice(ctx, false);
  try {
    const plain = await labelsOf(ctx);
    assert.is(plain.gemms.length, 8, plain.gemms.join('; '));
    for (const l of plain.gemms) assert.match(l, / @\S+$/, 'each GEMM label names its tile');
    assert.ok(plain.gemms.some((l) => / phases /.test(l)) && plain.gemms.some((l) => / ×\d+ splits/.test(l)), plain.gemms.join('; '));
    // Every site to one tile the heuristic never picks on a GPU route.
    const sites = Object.fromEntries(plain.gemms.map((l) => [siteOfLabel(l), { tile: 'direct8x8', ms: 1, heuristicMs: 2 }]));
    const table: GemmTuningTable = { version: 1, device: deviceIdentity(ctx), workload: 'test', created: 'now', candidates: ['direct8x8'], sites };
    setGemmTuning(table);
    const tuned = await labelsOf(ctx);
    assert.equal(tuned.gemms.map((l) => l.replace(/ @\S+$/, '').replace(/ ×\d+ splits/, '')), plain.gemms.map(siteOfLabel));
    for (const l of tuned.gemms) assert.match(l, / @direct8x8$/);
    // Same products under the other tile (split counts may differ: rounding only).
    tuned.values.forEach((v, i) => {
      let err = 0, scale = 1e-30;
      v.forEach((g, j) => { err = Math.max(err, Math.abs(g - plain.values[i][j])); scale = Math.max(scale, Math.abs(plain.values[i][j])); });
      assert.ok(err / scale < 1e-5, `output ${i}: ${err / scale}`);
    });
    setGemmTuning({ ...table, device: 'another GPU' });
    const other = await labelsOf(ctx);
    assert.equal(other.gemms, plain.gemms);
  } finally {
    setGemmTuning(null);
    overrideSoftwareDevice(ctx, null);
  }
});

test('tuneGemmTiles: one profiled run per candidate, a table over the step\'s sites, the heuristic left in place', async () => {
  const ctx = await runtime();
  if (!ctx || !ctx.features.has('timestamp-query')) return;
  let runs = 0;
  const step = async () => { runs++; const { outs } = everyKind(ctx); for (const s of outs) ctx.release(s); };
  // margin −∞: the best candidate other than the heuristic's own tile wins everywhere, so every
  // site gets an entry, and none names the tile the heuristic already ran there
  const r = await tuneGemmTiles(ctx, step, 'test step', ['direct8x8', 'direct32'], -Infinity);
  assert.is(runs, 1 + 2 + 2 + 1, 'a warm-up, the heuristic before and after, one per candidate, one confirming the table');
  assert.equal(r.skipped, []);
  assert.is(r.measured, 8);
  assert.is(Object.keys(r.table.sites).length, 8);
  for (const s of Object.values(r.table.sites)) assert.ok(['direct8x8', 'direct32'].includes(s.tile) && s.ms > 0 && s.heuristicMs > 0);
  const before = new Map((await labelsOf(ctx)).gemms.map((l) => [siteOfLabel(l), l.replace(/^.* @/, '')]));
  for (const [site, s] of Object.entries(r.table.sites)) assert.is.not(s.tile, before.get(site), site);
  assert.is(r.table.device, deviceIdentity(ctx));
  assert.ok(r.heuristicMs > 0 && r.tunedMs > 0);
  setGemmTile('direct32');
  try {
    await tuneGemmTiles(ctx, step, 'forced', ['direct8x8']).then(() => assert.unreachable('tuned under a forced tile'), (e: Error) => assert.match(e.message, /a tile is forced on every GEMM/));
  } finally {
    setGemmTile(null);
  }
});

test('a candidate that fails in the step is skipped, the next one is measured, and the failed step leaves nothing behind', async () => {
  const h = await gpuHandle(); // the tensors' backend and its runtime (kernel_parity's runtime() is another device)
  if (!h || !h.runtime.features.has('timestamp-query')) return;
  const be = h.backend, ctx = h.runtime;
  const a = tensor(randomF32(300 * 64, 1), [300, 64], { backend: be }), b = tensor(randomF32(64 * 40, 2), [64, 40], { backend: be });
  const step = async () => {
    const y = tidy(() => {
      const z = matmulOp(a, b); // recorded, then the step fails: its work and its tensors must go
      if (forcedGemmTile() === 'direct32') throw new Error('this tile failed');
      return sum(z);
    });
    await y.item();
    y.dispose();
  };
  await step();
  const before = ctx.stats().bytesInUse;
  const r = await tuneGemmTiles(ctx, step, 'failing', ['direct32', 'direct8x8'], -Infinity);
  assert.equal(r.skipped, ['direct32: this tile failed']);
  assert.equal(r.table.candidates, ['direct8x8']);
  assert.is(r.measured, 1);
  assert.is(ctx.stats().bytesInUse, before, 'the failed step\'s tensors were released');
  a.dispose(); b.dispose();
});

test.run();
