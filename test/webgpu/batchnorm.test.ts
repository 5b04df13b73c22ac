// Batch-norm parity vs the CPU backend: moments (incl. a large mean that naive E[x²]−E[x]²
// would lose), normalize with/without affine parameters and the fused residual add and ReLU, and the backward
// (dx, dgamma, dbeta); channel counts that are and are not multiples of 4, more channels than
// one workgroup covers, M = 2 and M large enough for several chunks; and the same passes over G
// groups of rows with statistics [G, C] of their own (two views in one batch).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu } from '../../src/backend/registry.js';
import { moments, normalize, batchNormBackward, batchStatistics } from '../../src/backend/webgpu/ops/norm.js';
import { overrideSoftwareDevice } from '../../src/backend/webgpu/ops/gemm.js';
import type { GpuContext } from '../../src/backend/webgpu/context.js';
import { assertClose, cpuData, cpuRaw, gpuRaw, randomF32, readF32, readI32, runtime, skipNotice } from './kernel_parity.js';

/**
 * The reductions size their chunks and finalisation workgroups differently on GPUs (hundreds of
 * chunks, 16 × 16 lanes) and on CPU implementations: 'gpu' takes the GPU's choices on lavapipe.
 */
type Routing = 'default' | 'gpu';
async function routed(ctx: GpuContext, routing: Routing, body: () => Promise<void>): Promise<void> {
  if (routing === 'gpu') overrideSoftwareDevice(ctx, false);
  try { await body(); } finally { if (routing === 'gpu') overrideSoftwareDevice(ctx, null); }
}

const shapes: [number, number][] = [[2, 3], [37, 8], [300, 5], [70, 131], [1000, 64]];

for (const routing of ['default', 'gpu'] as const) test(`moments match the CPU backend (${routing} routing)`, async () => {
  const ctx = await runtime();
  if (!ctx) return skipNotice('batchnorm.test');
  await routed(ctx, routing, async () => { for (const [M, C] of [...shapes, [20000, 12], [3000, 200]] as [number, number][]) {
    const X = randomF32(M * C, M + C, 2);
    const r = cpu().moments(cpuRaw(X, [M, C]));
    const g = moments(ctx, gpuRaw(ctx, X, [M, C]));
    // The means of data in [−2, 2] are near 0 for large M, so they are held to an absolute 1e-6
    // (≈ 1e-6 of the data's scale) rather than to their own size, which f32 sums over 20,000
    // rows cannot meet: looser than a relative 1e-5 on such a mean, still far below the error of
    // a lost lane or chunk (~1e-3).
    const gm = await readF32(ctx, g.mean, C), wm = await cpuData(r.mean, [C]);
    wm.forEach((w, c) => assert.ok(Math.abs(gm[c] - w) <= 1e-6 * Math.max(1, Math.abs(w)), `mean [${M},${C}][${c}]: ${gm[c]} vs ${w}`));
    assertClose(`variance [${M},${C}]`, await readF32(ctx, g.variance, C), await cpuData(r.variance, [C]), 1e-4);
  } });
});

test('moments stay accurate when |mean| ≫ std', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  const M = 4096, C = 4;
  const X = randomF32(M * C, 3, 0.01).map((v) => v + 1000);
  const r = cpu().moments(cpuRaw(X, [M, C]));
  const g = moments(ctx, gpuRaw(ctx, X, [M, C]));
  assertClose('variance with offset 1000', await readF32(ctx, g.variance, C), await cpuData(r.variance, [C]), 1e-3);
});

test('normalize (affine or not, fused ReLU) matches', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  for (const [M, C] of shapes) {
    const X = randomF32(M * C, 5), mu = randomF32(C, 6), is = randomF32(C, 7).map((v) => 1 + Math.abs(v));
    const ga = randomF32(C, 8), be = randomF32(C, 9);
    for (const affine of [false, true]) {
      const want = await cpuData(cpu().normalize(cpuRaw(X, [M, C]), cpuRaw(mu, [C]), cpuRaw(is, [C]),
        affine ? cpuRaw(ga, [C]) : null, affine ? cpuRaw(be, [C]) : null), [M * C]);
      const gx = gpuRaw(ctx, X, [M, C]), gm = gpuRaw(ctx, mu, [C]), gi = gpuRaw(ctx, is, [C]);
      const gg = affine ? gpuRaw(ctx, ga, [C]) : null, gb = affine ? gpuRaw(ctx, be, [C]) : null;
      assertClose(`normalize [${M},${C}] affine=${affine}`, await readF32(ctx, normalize(ctx, gx, gm, gi, gg, gb), M * C), want, 1e-6);
      const relu = await readF32(ctx, normalize(ctx, gx, gm, gi, gg, gb, { relu: true }), M * C);
      assertClose(`normalize+relu [${M},${C}]`, relu, want.map((v) => Math.max(v, 0)), 1e-6);
      // The residual-block epilogue: relu(bn(x) + shortcut), and the add alone.
      const R = randomF32(M * C, 10);
      for (const withRelu of [false, true]) {
        const wantR = await cpuData(cpu().normalize(cpuRaw(X, [M, C]), cpuRaw(mu, [C]), cpuRaw(is, [C]),
          affine ? cpuRaw(ga, [C]) : null, affine ? cpuRaw(be, [C]) : null, { residual: cpuRaw(R, [M, C]), relu: withRelu }), [M * C]);
        assertClose(`normalize+add${withRelu ? '+relu' : ''} [${M},${C}]`, wantR, want.map((v, i) => (withRelu ? Math.max(v + R[i], 0) : v + R[i])), 1e-6);
        const got = await readF32(ctx, normalize(ctx, gx, gm, gi, gg, gb, { residual: gpuRaw(ctx, R, [M, C]), relu: withRelu }), M * C);
        assertClose(`gpu normalize+add${withRelu ? '+relu' : ''} [${M},${C}]`, got, wantR, 1e-6);
      }
    }
  }
});

test('backward (dx, dgamma, dbeta) matches', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  for (const [M, C] of shapes) {
    const X = randomF32(M * C, 11), G = randomF32(M * C, 12), ga = randomF32(C, 13);
    const st = cpu().moments(cpuRaw(X, [M, C]));
    const mu = Float32Array.from(await cpuData(st.mean, [C]));
    const is = Float32Array.from(await cpuData(st.variance, [C]), (v) => 1 / Math.sqrt(v + 1e-5));
    for (const affine of [true, false]) {
      const r = cpu().batchNormBackward(cpuRaw(X, [M, C]), cpuRaw(G, [M, C]), cpuRaw(mu, [C]), cpuRaw(is, [C]), affine ? cpuRaw(ga, [C]) : null);
      const g = batchNormBackward(ctx, gpuRaw(ctx, X, [M, C]), gpuRaw(ctx, G, [M, C]), gpuRaw(ctx, mu, [C]), gpuRaw(ctx, is, [C]),
        affine ? gpuRaw(ctx, ga, [C]) : null);
      const tag = `[${M},${C}] affine=${affine}`;
      assertClose(`dbeta ${tag}`, await readF32(ctx, g.dbeta, C), await cpuData(r.dbeta, [C]), 1e-5);
      assertClose(`dgamma ${tag}`, await readF32(ctx, g.dgamma, C), await cpuData(r.dgamma, [C]), 1e-5);
      // dx = γσ⁻¹(dy − mean(dy) − x̂·mean(dy·x̂)) cancels almost completely when M is tiny (M = 2
      // normalises every channel to ±1): measure the error against the size of the terms.
      const want = await cpuData(r.dx, [M * C]), got = await readF32(ctx, g.dx, M * C);
      let termScale = 0, err = 0;
      for (let i = 0; i < M * C; i++) {
        termScale = Math.max(termScale, Math.abs((affine ? ga[i % C] : 1) * is[i % C] * G[i]));
        err = Math.max(err, Math.abs(got[i] - want[i]));
      }
      assert.ok(err <= 1e-5 * termScale, `dx ${tag}: error ${err} vs term scale ${termScale}`);
    }
  }
});

// Grouped: G groups of M rows, per-group statistics [G, C]; C both a multiple of 4 (vec4 passes)
// and not, M from 2 to several chunks.
const grouped: [number, number, number][] = [[2, 2, 3], [2, 37, 8], [3, 300, 5], [2, 1000, 64], [2, 70, 131], [2, 5000, 24], [2, 70000, 8]];

for (const routing of ['default', 'gpu'] as const) test(`grouped statistics, normalize and backward match the CPU backend (${routing} routing)`, async () => {
  const ctx = await runtime();
  if (!ctx) return;
  await routed(ctx, routing, async () => { for (const [G, M, C] of grouped) {
    const rows = G * M, tag = `${G}×[${M},${C}]`;
    // Each group has its own offset, so statistics shared across groups would show.
    const X = randomF32(rows * C, 21).map((v, i) => v + 3 * Math.floor(i / (M * C)));
    const rm = randomF32(C, 22), rv = randomF32(C, 23).map((v) => 1 + Math.abs(v));
    const count = Int32Array.from([5]);
    const cr = { mean: cpuRaw(rm, [C]), variance: cpuRaw(rv, [C]), count: cpuRaw(count, []), momentum: 0.1, n: M };
    const gr = { mean: gpuRaw(ctx, rm, [C]), variance: gpuRaw(ctx, rv, [C]), count: gpuRaw(ctx, count, []), momentum: 0.1, n: M };
    const cs = cpu().batchStatistics(cpuRaw(X, [rows, C]), 1e-5, cr, G);
    const gs = batchStatistics(ctx, gpuRaw(ctx, X, [rows, C]), 1e-5, gr, G);
    const mu = Float32Array.from(await cpuData(cs.mean, [G * C])), is = Float32Array.from(await cpuData(cs.invstd, [G * C]));
    assertClose(`mean ${tag}`, await readF32(ctx, gs.mean, G * C), mu, 1e-5);
    assertClose(`invstd ${tag}`, await readF32(ctx, gs.invstd, G * C), is, 1e-4);
    assertClose(`running mean ${tag}`, await readF32(ctx, gr.mean.storage, C), await cpuData(cr.mean.storage, [C]), 1e-5);
    assertClose(`running var ${tag}`, await readF32(ctx, gr.variance.storage, C), await cpuData(cr.variance.storage, [C]), 1e-4);
    assert.equal((await readI32(ctx, gr.count.storage, 1))[0], 5 + G, `batch counter ${tag}`);

    const ga = randomF32(C, 24), be = randomF32(C, 25), R = randomF32(rows * C, 26), D = randomF32(rows * C, 27);
    const want = await cpuData(cpu().normalize(cpuRaw(X, [rows, C]), cpuRaw(mu, [G, C]), cpuRaw(is, [G, C]), cpuRaw(ga, [C]), cpuRaw(be, [C]),
      { residual: cpuRaw(R, [rows, C]), relu: true }), [rows * C]);
    const got = await readF32(ctx, normalize(ctx, gpuRaw(ctx, X, [rows, C]), gpuRaw(ctx, mu, [G, C]), gpuRaw(ctx, is, [G, C]),
      gpuRaw(ctx, ga, [C]), gpuRaw(ctx, be, [C]), { residual: gpuRaw(ctx, R, [rows, C]), relu: true }), rows * C);
    assertClose(`normalize+add+relu ${tag}`, got, want, 1e-5);

    const r = cpu().batchNormBackward(cpuRaw(X, [rows, C]), cpuRaw(D, [rows, C]), cpuRaw(mu, [G, C]), cpuRaw(is, [G, C]), cpuRaw(ga, [C]));
    const g = batchNormBackward(ctx, gpuRaw(ctx, X, [rows, C]), gpuRaw(ctx, D, [rows, C]), gpuRaw(ctx, mu, [G, C]), gpuRaw(ctx, is, [G, C]), gpuRaw(ctx, ga, [C]));
    assertClose(`dbeta ${tag}`, await readF32(ctx, g.dbeta, C), await cpuData(r.dbeta, [C]), 1e-5);
    assertClose(`dgamma ${tag}`, await readF32(ctx, g.dgamma, C), await cpuData(r.dgamma, [C]), 1e-4);
    const wdx = await cpuData(r.dx, [rows * C]), gdx = await readF32(ctx, g.dx, rows * C);
    let scale = 0, err = 0;
    for (let i = 0; i < rows * C; i++) {
      scale = Math.max(scale, Math.abs(ga[i % C] * is[Math.floor(i / (M * C)) * C + (i % C)] * D[i]));
      err = Math.max(err, Math.abs(gdx[i] - wdx[i]));
    }
    assert.ok(err <= 1e-5 * scale, `dx ${tag}: error ${err} vs term scale ${scale}`);
  } });
});

for (const routing of ['default', 'gpu'] as const) test(`backward with a fused ReLU mask: dx, dgamma, dbeta and the masked gradient match (${routing} routing)`, async () => {
  const ctx = await runtime();
  if (!ctx) return;
  await routed(ctx, routing, async () => { for (const [G, M, C] of [[1, 37, 8], [1, 300, 5], [2, 70, 131], [2, 1000, 64], [1, 9000, 20]] as const) {
    const rows = G * M, tag = `${G}×[${M},${C}]`;
    const X = randomF32(rows * C, 31), D = randomF32(rows * C, 32), ga = randomF32(C, 33);
    // The ReLU output: zero at about half the positions.
    const Y = randomF32(rows * C, 34).map((v) => Math.max(v, 0));
    const mu = randomF32(G * C, 35), is = randomF32(G * C, 36).map((v) => 1 + Math.abs(v));
    const st = G > 1 ? [G, C] : [C];
    const r = cpu().batchNormBackward(cpuRaw(X, [rows, C]), cpuRaw(D, [rows, C]), cpuRaw(mu, st), cpuRaw(is, st), cpuRaw(ga, [C]), {}, cpuRaw(Y, [rows, C]));
    const g = batchNormBackward(ctx, gpuRaw(ctx, X, [rows, C]), gpuRaw(ctx, D, [rows, C]), gpuRaw(ctx, mu, st), gpuRaw(ctx, is, st), gpuRaw(ctx, ga, [C]),
      {}, gpuRaw(ctx, Y, [rows, C]));
    const masked = D.map((v, i) => (Y[i] > 0 ? v : 0));
    assertClose(`masked dy (cpu) ${tag}`, await cpuData(r.dyMasked!, [rows * C]), masked, 0);
    assertClose(`masked dy ${tag}`, await readF32(ctx, g.dyMasked!, rows * C), masked, 0);
    // The mask changes the sums: compare with an unmasked backward of the masked gradient.
    const ref = cpu().batchNormBackward(cpuRaw(X, [rows, C]), cpuRaw(masked, [rows, C]), cpuRaw(mu, st), cpuRaw(is, st), cpuRaw(ga, [C]));
    assertClose(`cpu dbeta ${tag}`, await cpuData(r.dbeta, [C]), await cpuData(ref.dbeta, [C]), 1e-12);
    assertClose(`dbeta ${tag}`, await readF32(ctx, g.dbeta, C), await cpuData(r.dbeta, [C]), 1e-5);
    assertClose(`dgamma ${tag}`, await readF32(ctx, g.dgamma, C), await cpuData(r.dgamma, [C]), 1e-4);
    assertClose(`dx ${tag}`, await readF32(ctx, g.dx, rows * C), await cpuData(r.dx, [rows * C]), 1e-4);
  } });
});

test.run();
