// Local/global similarity (the CO-SSL paper's Fig. 3B): the O(P·C) mean-of-unit-vectors identity
// against brute-force P×P loops, Pearson's r, the intra-image similarity, seeding and errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { localGlobalSimilarity, pearson, SimilarityAccumulator, type SimilarityInput } from '../../src/eval/similarity.js';
import { Rng } from '../../src/runtime/rng.js';

const randomArray = (n: number, rng: Rng) => Float32Array.from({ length: n }, () => rng.normal());

function randomInput(N: number, P: number, C: number, seed: number): SimilarityInput {
  const rng = new Rng(seed);
  return { global: randomArray(N * C, rng), local: randomArray(N * P * C, rng), count: N, positions: P, dim: C };
}

function cos(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number, C: number): number {
  let ab = 0, aa = 0, bb = 0;
  for (let c = 0; c < C; c++) { ab += a[i + c] * b[j + c]; aa += a[i + c] ** 2; bb += b[j + c] ** 2; }
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb);
}

/** Brute force: mean cosine over all P×P position pairs of images i and j. */
function bruteLocal(f: SimilarityInput, i: number, j: number): number {
  const { positions: P, dim: C } = f;
  let s = 0;
  for (let p = 0; p < P; p++) for (let q = 0; q < P; q++) s += cos(f.local, (i * P + p) * C, f.local, (j * P + q) * C, C);
  return s / (P * P);
}

/** Brute force: mean over images of the mean cosine over distinct positions p ≠ q. */
function bruteIntra(f: SimilarityInput): number {
  const { count: N, positions: P, dim: C } = f;
  let total = 0;
  for (let i = 0; i < N; i++) {
    let s = 0;
    for (let p = 0; p < P; p++) for (let q = 0; q < P; q++) if (p !== q) s += cos(f.local, (i * P + p) * C, f.local, (i * P + q) * C, C);
    total += s / (P * (P - 1));
  }
  return total / N;
}

test('localSim equals the brute-force P×P mean of cosines for every drawn pair; pairs are distinct images', () => {
  const f = randomInput(4, 6, 9, 1);
  // A zero local vector and a zero global vector: cosine 0, as in the brute force, not NaN.
  (f.local as Float32Array).fill(0, (1 * 6 + 2) * 9, (1 * 6 + 3) * 9);
  (f.global as Float32Array).fill(0, 3 * 9, 4 * 9);
  const r = localGlobalSimilarity(f, { pairs: 200, seed: 5, keepPairs: true });
  assert.is(r.pairs, 200);
  assert.is(r.globalSims!.length, 200);
  // Identify each drawn pair by its global similarity (distinct for random data), then compare.
  const cand: { i: number; j: number; g: number; l: number }[] = [];
  for (let i = 0; i < 4; i++) for (let j = i + 1; j < 4; j++) cand.push({ i, j, g: cos(f.global, i * 9, f.global, j * 9, 9), l: bruteLocal(f, i, j) });
  const seen = new Set<number>();
  let gSum = 0, lSum = 0;
  for (let k = 0; k < 200; k++) {
    const gs = r.globalSims![k];
    const hit = cand.filter((c) => Math.abs(c.g - gs) < 1e-6);
    assert.ok(hit.length >= 1, `pair ${k}: global similarity ${gs} matches no pair of distinct images`);
    // Pairs with image 3 share global similarity 0: any of them must match the local value.
    const m = hit.find((c) => Math.abs(c.l - r.localSims![k]) < 1e-6);
    assert.ok(m, `pair ${k}: local similarity ${r.localSims![k]} vs brute force ${hit.map((c) => c.l)}`);
    seen.add(m!.i * 4 + m!.j);
    gSum += m!.g; lSum += m!.l;
  }
  assert.ok(seen.size >= 5, `200 draws cover the pairs (${seen.size} of 6 seen)`);
  assert.ok(Number.isFinite(r.pearson));
  assert.ok(Math.abs(r.meanGlobalSim - gSum / 200) < 1e-7);
  assert.ok(Math.abs(r.meanLocalSim - lSum / 200) < 1e-7);
  assert.ok(Math.abs(r.intraLocalSim - bruteIntra(f)) < 1e-12, `intra ${r.intraLocalSim} vs ${bruteIntra(f)}`);
});

test('identity is exact in float64: two images, every pair is (0, 1) or (1, 0)', () => {
  for (const [P, C, seed] of [[2, 3, 2], [7, 16, 3], [16, 5, 4]]) {
    const f = randomInput(2, P, C, seed);
    const r = localGlobalSimilarity(f, { pairs: 10, seed });
    assert.ok(Math.abs(r.meanLocalSim - bruteLocal(f, 0, 1)) < 1e-12, `P=${P} C=${C}: ${r.meanLocalSim} vs ${bruteLocal(f, 0, 1)}`);
    assert.ok(Math.abs(r.meanGlobalSim - cos(f.global, 0, f.global, C, C)) < 1e-12);
    assert.ok(Math.abs(r.intraLocalSim - bruteIntra(f)) < 1e-12);
    assert.ok(Number.isNaN(r.pearson), 'both series constant: r undefined');
  }
});

test('pearson: a hand-computed example, ±1 for affine relations, NaN for a constant series', () => {
  // a − ā = (−1.5, −.5, .5, 1.5), b − b̄ = (−.5, −1.5, 1.5, .5): Σ products 3, Σ squares 5 and 5.
  assert.ok(Math.abs(pearson([1, 2, 3, 4], [2, 1, 4, 3]) - 0.6) < 1e-15);
  const rng = new Rng(3);
  const a = randomArray(50, rng);
  assert.is(pearson(a, Array.from(a, (v) => 3 * v + 2)), 1);
  assert.is(pearson(a, Array.from(a, (v) => -0.5 * v + 7)), -1);
  assert.ok(Math.abs(pearson(a, randomArray(50, rng))) < 0.35, 'independent series: small r');
  assert.ok(Number.isNaN(pearson([1, 2, 3], [4, 4, 4])));
  assert.throws(() => pearson([1, 2], [1, 2, 3]), /lengths differ/);
  assert.throws(() => pearson([1], [1]), /at least 2/);
});

test('intra-image similarity: 1 for positive scalings of one vector, ≈ 0 for random high-dimensional vectors', () => {
  const N = 3, P = 5, C = 4;
  const rng = new Rng(8);
  const local = new Float32Array(N * P * C);
  for (let i = 0; i < N; i++) {
    const v = randomArray(C, rng);
    for (let p = 0; p < P; p++) for (let c = 0; c < C; c++) local[(i * P + p) * C + c] = v[c] * (0.5 + p);
  }
  const same = localGlobalSimilarity({ global: randomArray(N * C, rng), local, count: N, positions: P, dim: C }, { pairs: 20 });
  assert.ok(Math.abs(same.intraLocalSim - 1) < 1e-12, `intra ${same.intraLocalSim}`);
  const rand = localGlobalSimilarity(randomInput(3, 8, 2000, 9), { pairs: 20 });
  assert.ok(Math.abs(rand.intraLocalSim) < 0.02, `intra ${rand.intraLocalSim}`);
  assert.ok(Math.abs(rand.meanLocalSim) < 0.02 && Math.abs(rand.meanGlobalSim) < 0.1);
  // An image whose local vectors are all zero has intra similarity 0 (not NaN).
  const zeros = randomInput(2, 3, 4, 10);
  (zeros.local as Float32Array).fill(0, 0, 12);
  const z = localGlobalSimilarity(zeros, { pairs: 4 });
  assert.ok(Math.abs(z.intraLocalSim - bruteIntra(zeros)) < 1e-12 && Number.isFinite(z.intraLocalSim));
  assert.is(z.meanLocalSim, 0);
});

test('local maps that follow the global representation correlate with it (Fig. 3B\'s high-r case)', () => {
  const N = 20, P = 4, C = 8;
  const rng = new Rng(11);
  const global = randomArray(N * C, rng);
  const local = new Float32Array(N * P * C);
  for (let i = 0; i < N; i++) for (let p = 0; p < P; p++) for (let c = 0; c < C; c++) local[(i * P + p) * C + c] = global[i * C + c] + 0.1 * rng.normal();
  const r = localGlobalSimilarity({ global, local, count: N, positions: P, dim: C }, { pairs: 300, seed: 1 });
  assert.ok(r.pearson > 0.95, `r ${r.pearson}`);
  assert.ok(r.intraLocalSim > 0.95);
});

test('pairs are determined by the seed', () => {
  const f = randomInput(10, 3, 5, 12);
  const a = localGlobalSimilarity(f, { pairs: 50, seed: 7, keepPairs: true });
  const b = localGlobalSimilarity(f, { pairs: 50, seed: 7, keepPairs: true });
  const c = localGlobalSimilarity(f, { pairs: 50, seed: 8, keepPairs: true });
  assert.equal(a, b);
  assert.not.equal([...a.globalSims!], [...c.globalSims!]);
  const d = localGlobalSimilarity(f, { pairs: 50, seed: 7 });
  assert.is(d.globalSims, undefined);
  assert.is(d.pearson, a.pearson);
});

test('errors: fewer than 2 images or positions, sizes that do not match, no pairs', () => {
  const ok = randomInput(3, 2, 4, 13);
  assert.throws(() => localGlobalSimilarity({ ...randomInput(1, 2, 4, 1) }, { pairs: 5 }), /at least 2 images/);
  assert.throws(() => localGlobalSimilarity({ ...randomInput(3, 1, 4, 1) }, { pairs: 5 }), /at least 2 local positions/);
  assert.throws(() => localGlobalSimilarity({ ...ok, dim: 5 }, { pairs: 5 }), /global has 12 values/);
  assert.throws(() => localGlobalSimilarity({ ...ok, local: (ok.local as Float32Array).slice(1) }, { pairs: 5 }), /local has 23 values/);
  assert.throws(() => localGlobalSimilarity(ok, { pairs: 0 }), /pairs must be a positive integer/);
  assert.throws(() => localGlobalSimilarity({ ...ok, count: 2.5 }, { pairs: 3 }), /count must be a positive integer/);
});

test('images given in batches give the same result as all at once', () => {
  const f = randomInput(9, 5, 7, 11);
  const whole = localGlobalSimilarity(f, { pairs: 300, seed: 4, keepPairs: true });
  const acc = new SimilarityAccumulator();
  for (const [a, b] of [[0, 4], [4, 5], [5, 9]]) {
    acc.add({ global: (f.global as Float32Array).slice(a * 7, b * 7), local: (f.local as Float32Array).slice(a * 35, b * 35), count: b - a, positions: 5, dim: 7 });
  }
  const parts = acc.result({ pairs: 300, seed: 4, keepPairs: true });
  assert.equal(parts, whole);
  assert.throws(() => acc.add({ global: new Float32Array(8), local: new Float32Array(40), count: 1, positions: 5, dim: 8 }), /8-dim features after 7-dim/);
});

test.run();
