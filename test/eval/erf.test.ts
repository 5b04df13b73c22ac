// Effective receptive field (the CO-SSL paper's Appendix A.5): the nonzero-gradient region of a
// randomly initialised RF-ResNet is its theoretical receptive field, placed where the strides and
// paddings put it; per-image max normalisation; images are independent; the tape is freed; errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu } from '../../src/backend/registry.js';
import { concat, noGrad, randn, slice } from '../../src/ops/index.js';
import type { Tensor } from '../../src/tensor.js';
import { manualSeed } from '../../src/nn/init.js';
import { Rng } from '../../src/runtime/rng.js';
import { createBackbone, summarize, type ArchSummary, type Features, type ResNet } from '../../src/models/index.js';
import { effectiveReceptiveField } from '../../src/eval/erf.js';

// RF-ResNet10 (RF 29, jump 4) with the small stem at 40×40: a 10×10 local map whose centre
// position (5, 5) sees input rows/cols 6..34, fully inside the image.
const S = 40;
function model(seed: number, dtype: 'f32' | 'f64' = 'f64'): ResNet {
  manualSeed(seed);
  return createBackbone('rf29-resnet10', { width: 0.0625, smallStem: true, backend: cpu(), dtype }).eval();
}
const images = (n: number, seed: number, dtype: 'f32' | 'f64' = 'f64') => randn([n, S, S, 3], new Rng(seed), { dtype, backend: cpu() });

/**
 * First input row/col of the theoretical window of local-map index r: r·jump − Σ_l p_l·J_l over
 * the main path's spatial layers (p_l its padding, J_l the cumulative stride before it).
 */
function windowStart(s: ArchSummary, r: number): number {
  let jump = 1, pad = 0;
  for (const row of s.rows) {
    if (row.rf === null || row.kernel === undefined) continue; // shortcuts, batch norm, after pooling
    pad += (row.padding ?? 0) * jump;
    jump *= row.stride ?? 1;
  }
  assert.is(jump, s.jump);
  return r * s.jump - pad;
}

/** Bounding box [r0, r1, c0, c1] and count of the positive pixels of an [S, S] map. */
function support(map: Float32Array): { box: number[]; count: number } {
  let r0 = S, r1 = -1, c0 = S, c1 = -1, count = 0;
  for (let i = 0; i < S; i++) {
    for (let j = 0; j < S; j++) {
      if (!(map[i * S + j] > 0)) continue;
      count++;
      r0 = Math.min(r0, i); r1 = Math.max(r1, i); c0 = Math.min(c0, j); c1 = Math.max(c1, j);
    }
  }
  return { box: [r0, r1, c0, c1], count };
}

test('the centre position\'s nonzero-gradient region is the theoretical RF square, where jump and padding put it', async () => {
  const s = summarize(model(0), S);
  assert.is(s.rf, 29);
  assert.equal(s.localMap, [10, 10]);
  const c = 5, lo = windowStart(s, c), hi = lo + s.rf - 1;
  assert.equal([lo, hi], [6, 34]);
  assert.ok(lo >= 0 && hi < S, 'the window lies inside the image');
  for (const seed of [1, 2, 3]) {
    const x = images(1, 100 + seed);
    const r = await effectiveReceptiveField(model(seed), x, { positions: [[c, c]], keepMap: true });
    const { box, count } = support(r.map!);
    // Nothing outside the window (more would be a bug), and its border reached on all four sides
    // (random weights: ReLUs may zero a few single pixels, never a whole border row).
    assert.equal(box, [lo, hi, lo, hi], `seed ${seed}: support ${box}, window ${[lo, hi]}`);
    assert.ok(r.sqrtNonzero <= s.rf && r.sqrtNonzero > 0.95 * s.rf, `seed ${seed}: sqrt(nonzero) ${r.sqrtNonzero}`);
    assert.is(r.sqrtNonzero, Math.sqrt(count));
    x.dispose();
  }
});

test('corner position: the window is clipped by the image edge at the same offset', async () => {
  const s = summarize(model(0), S);
  const lo = windowStart(s, 0), hi = lo + s.rf - 1; // −14..14
  const x = images(2, 7);
  const r = await effectiveReceptiveField(model(4), x, { positions: [[0, 0]], keepMap: true });
  assert.equal(support(r.map!).box, [0, hi, 0, hi]);
  assert.ok(lo < 0);
  x.dispose();
});

test('normalisation: maximum 1 per image, thresholds monotone (>0.32 ⊆ >0.05 ⊆ nonzero)', async () => {
  const m = model(5);
  const x = images(3, 8);
  for (let b = 0; b < 3; b++) {
    const xb = slice(x, [b, 0, 0, 0], [1, S, S, 3]);
    const r = await effectiveReceptiveField(m, xb, { positions: [[5, 5]], keepMap: true });
    assert.is(Math.max(...r.map!), 1, `image ${b}: peak of the normalised map`);
    xb.dispose();
  }
  const r = await effectiveReceptiveField(m, x, { keepMap: true });
  assert.equal(r.positions, [[0, 0], [0, 5], [5, 0], [5, 5]], 'the paper\'s default positions on a 10×10 map');
  assert.is(r.images, 3);
  assert.is(r.perPosition.length, 4);
  assert.ok(Math.max(...r.map!) <= 1 && Math.min(...r.map!) >= 0);
  for (const p of [...r.perPosition, r]) {
    assert.ok(p.sqrtAbove32 > 0 && p.sqrtAbove32 <= p.sqrtAbove5 && p.sqrtAbove5 <= p.sqrtNonzero, JSON.stringify(p));
  }
  // The ERF is smaller than the theoretical RF (Luo et al.: Gaussian-like, concentrated at the centre).
  assert.ok(r.perPosition[3].sqrtAbove32 < 0.5 * 29, `centre sqrt(>0.32) ${r.perPosition[3].sqrtAbove32}`);
  const mean = (k: 'sqrtAbove5' | 'sqrtAbove32' | 'sqrtNonzero') => r.perPosition.reduce((a, p) => a + p[k], 0) / 4;
  assert.ok(Math.abs(r.sqrtAbove5 - mean('sqrtAbove5')) < 1e-12 && Math.abs(r.sqrtNonzero - mean('sqrtNonzero')) < 1e-12);
  x.dispose();
});

test('images are independent: a batch of 2 gives the mean of the two images\' results alone (f32)', async () => {
  const m = model(6, 'f32');
  const a = images(1, 9, 'f32');
  const b = randn([1, S, S, 3], new Rng(10), { dtype: 'f32', backend: cpu(), std: 5 }); // very different statistics
  const ab = concat([a, b], 0);
  const opts = { positions: [[0, 0], [5, 5], [9, 3]] as [number, number][], keepMap: true };
  const ra = await effectiveReceptiveField(m, a, opts);
  const rb = await effectiveReceptiveField(m, b, opts);
  const rab = await effectiveReceptiveField(m, ab, opts);
  for (const k of ['sqrtAbove5', 'sqrtAbove32', 'sqrtNonzero'] as const) {
    assert.ok(Math.abs(rab[k] - (ra[k] + rb[k]) / 2) < 1e-9, `${k}: batch ${rab[k]}, alone ${ra[k]} and ${rb[k]}`);
    rab.perPosition.forEach((p, i) => assert.ok(Math.abs(p[k] - (ra.perPosition[i][k] + rb.perPosition[i][k]) / 2) < 1e-9));
  }
  let worst = 0;
  rab.map!.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - (ra.map![i] + rb.map![i]) / 2)); });
  assert.ok(worst < 1e-6, `map differs by ${worst}`);
  for (const t of [a, b, ab]) t.dispose();
});

test('the caller\'s images and the model are left as they were; the whole tape is freed', async () => {
  const m = model(7);
  const x = images(2, 11);
  const before = [...x.dataSync()];
  const params = m.parameters();
  assert.ok(params.every((p) => p.requiresGrad));
  const seen: Features[] = [];
  const forwardFeatures = m.forwardFeatures.bind(m);
  m.forwardFeatures = (xx, o) => { const f = forwardFeatures(xx, o); seen.push(f); return f; };
  await effectiveReceptiveField(m, x, { positions: [[2, 2], [7, 1]] });
  assert.is(seen.length, 1, 'one forward for all positions');
  for (const [k, t] of Object.entries(seen[0])) {
    if (t) assert.is((t as Tensor).node, null, `features.${k} still holds its recorded op`);
  }
  assert.ok(!x.isDisposed && !x.requiresGrad && x.grad === null);
  assert.equal([...x.dataSync()], before);
  assert.ok(params.every((p) => p.requiresGrad && p.grad === null), 'parameters require grad again and got no gradient');
  assert.ok(!m.training);
  x.dispose();
});

test('errors: position outside the local map (named size), training mode, noGrad, non-image input', async () => {
  const m = model(8);
  const x = images(1, 12);
  const err = async (p: Promise<unknown>, re: RegExp) => {
    try { await p; } catch (e) { assert.match((e as Error).message, re); return; }
    assert.unreachable(`expected ${re}`);
  };
  await err(effectiveReceptiveField(m, x, { positions: [[10, 0]] }), /position \(10, 0\) is outside the 10×10 local map/);
  await err(effectiveReceptiveField(m, x, { positions: [[3, -1]] }), /outside the 10×10 local map/);
  await err(effectiveReceptiveField(m, x, { positions: [] }), /positions is empty/);
  await err(noGrad(() => effectiveReceptiveField(m, x)), /inside noGrad/);
  await err(effectiveReceptiveField(m, randn([1, S, S, 1], new Rng(1), { backend: cpu() })), /NHWC images/);
  m.train();
  await err(effectiveReceptiveField(m, x), /training mode; call backbone.eval\(\)/);
  m.eval();
  // After the failed calls the model still works with gradients.
  assert.ok(m.parameters().every((p) => p.requiresGrad));
  const r = await effectiveReceptiveField(m, x, { positions: [[5, 5]] });
  assert.ok(r.sqrtNonzero > 0);
  x.dispose();
});

test.run();
