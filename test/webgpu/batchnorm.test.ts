// Batch-norm parity vs the CPU backend: moments (incl. a large mean that naive E[x²]−E[x]²
// would lose), normalize with/without affine parameters and the fused residual add and ReLU, and the backward
// (dx, dgamma, dbeta); channel counts that are and are not multiples of 4, more channels than
// one workgroup covers, M = 2 and M large enough for several chunks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu } from '../../src/backend/registry.js';
import { moments, normalize, batchNormBackward } from '../../src/backend/webgpu/ops/norm.js';
import { assertClose, cpuData, cpuRaw, gpuRaw, randomF32, readF32, runtime, skipNotice } from './kernel_parity.js';

const shapes: [number, number][] = [[2, 3], [37, 8], [300, 5], [70, 131], [1000, 64]];

test('moments match the CPU backend', async () => {
  const ctx = await runtime();
  if (!ctx) return skipNotice('batchnorm.test');
  for (const [M, C] of shapes) {
    const X = randomF32(M * C, M + C, 2);
    const r = cpu().moments(cpuRaw(X, [M, C]));
    const g = moments(ctx, gpuRaw(ctx, X, [M, C]));
    assertClose(`mean [${M},${C}]`, await readF32(ctx, g.mean, C), await cpuData(r.mean, [C]), 1e-5);
    assertClose(`variance [${M},${C}]`, await readF32(ctx, g.variance, C), await cpuData(r.variance, [C]), 1e-4);
  }
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

test.run();
