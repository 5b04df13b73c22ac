// Image corruptions (ImageNet-C / CIFAR-10-C): determinism, noise statistics, blur geometry,
// severity ordering, errors, and zoom blur against the reference implementation's golden values.
import { test } from 'uvu';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as assert from 'uvu/assert';
import {
  CORRUPTIONS, corruptImages, defaultTable, defocusKernel, poisson, zoomFactors,
  type CorruptionName, type CorruptionTable, type ImageShape,
} from '../../src/eval/corruptions.js';
import { Rng } from '../../src/runtime/rng.js';

const TABLES: CorruptionTable[] = ['imagenet', 'cifar'];
const SEVERITIES = [1, 2, 3, 4, 5];
const BLURS: CorruptionName[] = ['defocus_blur', 'glass_blur', 'motion_blur', 'zoom_blur'];
const RANDOM: CorruptionName[] = ['gaussian_noise', 'shot_noise', 'impulse_noise', 'glass_blur', 'motion_blur'];

function flat(h: number, w: number, c: number, v: number, count = 1): Uint8Array {
  return new Uint8Array(count * h * w * c).fill(v);
}

/** A seeded random texture (uniform bytes). */
function texture(h: number, w: number, c: number, seed: number, count = 1): Uint8Array {
  const rng = new Rng(seed);
  return Uint8Array.from({ length: count * h * w * c }, () => rng.int(256));
}

/** A seeded random pattern of 4×4 blocks: textured, but with some spatial correlation like a photo. */
function blocks(n: number, c: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const cells = Uint8Array.from({ length: (n / 4) * (n / 4) * c }, () => rng.int(256));
  const img = new Uint8Array(n * n * c);
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) for (let ch = 0; ch < c; ch++) {
    img[(y * n + x) * c + ch] = cells[((y >> 2) * (n / 4) + (x >> 2)) * c + ch];
  }
  return img;
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

/** Mean and standard deviation of (out - in)/255. */
function diffStats(out: Uint8Array, inp: Uint8Array): { mean: number; std: number; variance: number } {
  let s = 0, s2 = 0;
  for (let i = 0; i < out.length; i++) { const d = (out[i] - inp[i]) / 255; s += d; s2 += d * d; }
  const mean = s / out.length, variance = s2 / out.length - mean * mean;
  return { mean, std: Math.sqrt(variance), variance };
}

const bytes = (a: Uint8Array) => Array.from(a);

test('corruptions: deterministic by seed; random corruptions differ across seeds', () => {
  const shape: ImageShape = [2, 24, 24, 3];
  const img = texture(24, 24, 3, 1, 2);
  for (const name of CORRUPTIONS) {
    const a = corruptImages(img, shape, name, 3, { seed: 7 });
    const b = corruptImages(img, shape, name, 3, { seed: 7 });
    assert.equal(bytes(a), bytes(b), `${name}: same seed, same bytes`);
    const c = corruptImages(img, shape, name, 3, { seed: 8 });
    if (RANDOM.includes(name)) assert.not.equal(bytes(c), bytes(a), `${name}: another seed, other bytes`);
    else assert.equal(bytes(c), bytes(a), `${name} draws nothing, so the seed is irrelevant`);
  }
});

test('corruptions: an image\'s result does not depend on the batch it is in', () => {
  const shape: ImageShape = [3, 20, 20, 3];
  const per = 20 * 20 * 3;
  const batch = texture(20, 20, 3, 2, 3);
  for (const name of CORRUPTIONS) {
    const all = corruptImages(batch, shape, name, 4, { seed: 5 });
    const one = corruptImages(batch.subarray(per, 2 * per), [1, 20, 20, 3], name, 4, { seed: 5, firstIndex: 1 });
    assert.equal(bytes(one), bytes(all.subarray(per, 2 * per)), `${name}: image 1 alone = image 1 in the batch`);
    const tail = corruptImages(batch.subarray(per), [2, 20, 20, 3], name, 4, { seed: 5, firstIndex: 1 });
    assert.equal(bytes(tail), bytes(all.subarray(per)), `${name}: images 1..2 as a chunk`);
  }
  // Identical images at different positions get different draws.
  const twins = flat(16, 16, 3, 128, 2);
  const noisy = corruptImages(twins, [2, 16, 16, 3], 'gaussian_noise', 1, { seed: 0 });
  assert.not.equal(bytes(noisy.subarray(0, 768)), bytes(noisy.subarray(768)));
});

test('corruptions: default table by size', () => {
  assert.is(defaultTable(28), 'cifar');
  assert.is(defaultTable(64), 'cifar');
  assert.is(defaultTable(65), 'imagenet');
  assert.is(defaultTable(224), 'imagenet');
  const img = texture(32, 32, 3, 3);
  const auto = corruptImages(img, [1, 32, 32, 3], 'defocus_blur', 5);
  assert.equal(bytes(auto), bytes(corruptImages(img, [1, 32, 32, 3], 'defocus_blur', 5, { table: 'cifar' })));
  assert.not.equal(bytes(auto), bytes(corruptImages(img, [1, 32, 32, 3], 'defocus_blur', 5, { table: 'imagenet' })));
});

test('gaussian_noise: mean 0 and std σ of the table, both tables', () => {
  const sigmas: Record<CorruptionTable, number[]> = { imagenet: [0.08, 0.12, 0.18], cifar: [0.04, 0.06, 0.08, 0.09, 0.10] };
  const img = flat(64, 64, 3, 128);
  const n = img.length;
  for (const table of TABLES) {
    sigmas[table].forEach((sigma, i) => {
      // Severities whose noise is (nearly) never clipped at 0 or 1 from mid-grey.
      const out = corruptImages(img, [1, 64, 64, 3], 'gaussian_noise', i + 1, { table, seed: 11 });
      const st = diffStats(out, img);
      assert.ok(Math.abs(st.mean) < 5 * sigma / Math.sqrt(n), `${table} ${i + 1}: mean ${st.mean}`);
      assert.ok(Math.abs(st.std / sigma - 1) < 0.05, `${table} ${i + 1}: std ${st.std} vs σ ${sigma}`);
    });
  }
});

test('shot_noise: mean preserved, variance x/c, both tables', () => {
  const photons: Record<CorruptionTable, number[]> = { imagenet: [60, 25], cifar: [500, 250, 100, 75, 50] };
  const img = flat(64, 64, 3, 128);
  const x = 128 / 255, n = img.length;
  for (const table of TABLES) {
    photons[table].forEach((c, i) => {
      // Severities where clipping at 1 is negligible.
      const out = corruptImages(img, [1, 64, 64, 3], 'shot_noise', i + 1, { table, seed: 12 });
      const st = diffStats(out, img);
      const variance = x / c;
      assert.ok(Math.abs(st.mean) < 5 * Math.sqrt(variance / n), `${table} ${i + 1}: mean ${st.mean}`);
      assert.ok(Math.abs(st.variance / variance - 1) < 0.08, `${table} ${i + 1}: variance ${st.variance} vs ${variance}`);
    });
  }
});

test('poisson: integer samples with mean and variance λ, on both algorithms', () => {
  const rng = new Rng(3);
  const n = 20000;
  for (const lam of [0, 0.5, 1.5, 6, 9.9, 10, 25, 125, 500]) {
    let s = 0, s2 = 0;
    for (let i = 0; i < n; i++) {
      const k = poisson(rng, lam);
      assert.ok(Number.isInteger(k) && k >= 0, `λ ${lam}: sample ${k}`);
      s += k; s2 += k * k;
    }
    const mean = s / n, variance = s2 / n - mean * mean;
    if (lam === 0) { assert.is(s, 0); continue; }
    assert.ok(Math.abs(mean - lam) < 5 * Math.sqrt(lam / n), `λ ${lam}: mean ${mean}`);
    assert.ok(Math.abs(variance / lam - 1) < 0.06, `λ ${lam}: variance ${variance}`);
  }
  assert.throws(() => poisson(rng, -1), /-1/);
});

test('poisson: the distribution matches the Poisson pmf (chi-square)', () => {
  const rng = new Rng(4);
  const n = 100000;
  for (const lam of [3, 25, 125]) {
    const counts = new Map<number, number>();
    for (let i = 0; i < n; i++) { const k = poisson(rng, lam); counts.set(k, (counts.get(k) ?? 0) + 1); }
    // Bins with an expected count >= 20 (pmf by logs), the rest pooled into one.
    let chi2 = 0, bins = 0, restObs = n, restExp = n;
    for (let k = 0; k < lam + 20 * Math.sqrt(lam); k++) {
      let logp = -lam + k * Math.log(lam);
      for (let j = 2; j <= k; j++) logp -= Math.log(j);
      const e = n * Math.exp(logp);
      if (e < 20) continue;
      const o = counts.get(k) ?? 0;
      chi2 += (o - e) ** 2 / e; bins++; restObs -= o; restExp -= e;
    }
    chi2 += (restObs - restExp) ** 2 / restExp;
    const df = bins; // bins + 1 cells, minus 1
    assert.ok(chi2 < df + 5 * Math.sqrt(2 * df), `λ ${lam}: χ² ${chi2.toFixed(1)} on ${df} degrees of freedom`);
  }
});

test('impulse_noise: share of 0/255 values ≈ amount, half salt and half pepper', () => {
  const amounts: Record<CorruptionTable, number[]> = { imagenet: [0.03, 0.06, 0.09, 0.17, 0.27], cifar: [0.01, 0.02, 0.03, 0.05, 0.07] };
  const img = flat(64, 64, 3, 128);
  const n = img.length;
  for (const table of TABLES) {
    amounts[table].forEach((amount, i) => {
      const out = corruptImages(img, [1, 64, 64, 3], 'impulse_noise', i + 1, { table, seed: 13 });
      let salt = 0, pepper = 0, other = 0;
      for (const v of out) { if (v === 255) salt++; else if (v === 0) pepper++; else if (v !== 128) other++; }
      assert.is(other, 0, 'values are untouched, salt or pepper');
      const flipped = salt + pepper;
      assert.ok(Math.abs(flipped / n - amount) < 5 * Math.sqrt(amount * (1 - amount) / n), `${table} ${i + 1}: ${flipped / n} vs ${amount}`);
      assert.ok(Math.abs(salt / flipped - 0.5) < 5 * Math.sqrt(0.25 / flipped), `${table} ${i + 1}: salt share ${salt / flipped}`);
    });
  }
});

test('blurs: a flat image stays flat at every severity, both tables', () => {
  for (const v of [77, 200]) {
    const img = flat(40, 40, 3, v);
    for (const table of TABLES) {
      for (const name of BLURS) {
        for (const s of SEVERITIES) {
          const out = corruptImages(img, [1, 40, 40, 3], name, s, { table, seed: 1 });
          const bad = out.findIndex((u) => u !== v);
          assert.is(bad, -1, `${name} ${table} ${s}: value ${out[bad]} at ${bad}, expected ${v}`);
        }
      }
    }
  }
});

test('defocus_blur: the kernel sums to 1, is symmetric, and is the disk', () => {
  const entries: [number, number][] = [[3, 0.1], [4, 0.5], [6, 0.5], [8, 0.5], [10, 0.5], [0.3, 0.4], [0.4, 0.5], [0.5, 0.6], [1, 0.2], [1.5, 0.1]];
  for (const [r, a] of entries) {
    const { size, weights } = defocusKernel(r, a);
    assert.is(size, r <= 8 ? 17 : 2 * r + 1, `radius ${r}: grid`);
    let sum = 0;
    for (const v of weights) { sum += v; assert.ok(v >= 0); }
    assert.ok(Math.abs(sum - 1) < 1e-12, `radius ${r}: sum ${sum}`);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
      assert.ok(Math.abs(weights[y * size + x] - weights[x * size + y]) < 1e-15 && Math.abs(weights[y * size + x] - weights[(size - 1 - y) * size + x]) < 1e-15, `radius ${r}: symmetric`);
    }
  }
  // Radius 3 with a tiny anti-alias: 29 taps of 1/29, nothing else of note.
  const k3 = defocusKernel(3, 0.1);
  assert.is(k3.weights.filter((v) => v > 1e-6).length, 29);
  assert.ok(Math.abs(k3.weights[8 * 17 + 8] - 1 / 29) < 1e-9);
  assert.ok(Math.abs(k3.weights[8 * 17 + 11] - 1 / 29) < 1e-9 && k3.weights[8 * 17 + 12] < 1e-9, 'radius 3 edge');
  // A radius below 1 keeps only the centre tap before anti-aliasing: a 3×3 Gaussian.
  const k03 = defocusKernel(0.3, 0.4);
  const g = Math.exp(-0.5 / 0.16), g1 = 1 / (1 + 2 * g);
  assert.ok(Math.abs(k03.weights[8 * 17 + 8] - g1 * g1) < 1e-12 && Math.abs(k03.weights[7 * 17 + 7] - g * g1 * g * g1) < 1e-12);
  assert.is(k03.weights.filter((v) => v > 0).length, 9);
});

test('defocus_blur: a bright point spreads to the disk radius (ImageNet severity 1, radius 3)', () => {
  const n = 33, c = n >> 1;
  const img = flat(n, n, 1, 0);
  img[c * n + c] = 255;
  const out = corruptImages(img, [1, n, n, 1], 'defocus_blur', 1, { table: 'imagenet' });
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
    const r2 = (y - c) ** 2 + (x - c) ** 2, v = out[y * n + x];
    if (r2 <= 9) assert.is(v, Math.round(255 / 29), `(${y - c}, ${x - c}) inside the disk`);
    else assert.is(v, 0, `(${y - c}, ${x - c}) outside the disk`);
  }
});

test('motion_blur: one-sided along the angle, mass preserved (CIFAR severity 1)', () => {
  const n = 31, c = 15;
  for (const seed of [0, 1, 2, 3]) {
    const img = flat(n, n, 1, 0);
    img[c * n + c] = 255;
    const out = corruptImages(img, [1, n, n, 1], 'motion_blur', 1, { table: 'cifar', seed });
    let sum = 0, maxDist = 0;
    for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
      const v = out[y * n + x];
      if (v === 0) continue;
      sum += v;
      // Output (y, x) reads input (y + oy, x + ox) with ox = round(k cos θ) >= 0, |θ| <= 45°:
      // the light spreads to the left of the point only, as far as |oy| <= ox.
      assert.ok(x <= c && Math.abs(y - c) <= c - x, `seed ${seed}: light at (${y - c}, ${x - c})`);
      maxDist = Math.max(maxDist, c - x);
    }
    assert.is(out[c * n + c], Math.round(255 / (1 + Math.exp(-0.5) + Math.exp(-2) + Math.exp(-4.5) + Math.exp(-8))), `seed ${seed}: k = 0 weight`);
    assert.ok(Math.abs(sum - 255) <= 4, `seed ${seed}: mass ${sum}`);
    assert.ok(maxDist >= 2 && maxDist <= 4, `seed ${seed}: reach ${maxDist}`);
  }
});

test('glass_blur: each pixel copies itself or its upper/left neighbours (CIFAR severity 1: δ 1, no blur)', () => {
  // σ 0.05 gives a one-tap Gaussian, so only the shuffle acts. With δ = 1 the offsets are in
  // {-1, 0}², and rows/columns are visited downwards from the last, so every source is still
  // unmodified: out(h, w) = in(h + dy, w + dx) for h, w in 2..n-1; rows and columns 0, 1 stay.
  const n = 32, c = 3;
  const img = texture(n, n, c, 17);
  const out = corruptImages(img, [1, n, n, c], 'glass_blur', 1, { table: 'cifar', seed: 6 });
  const px = (a: Uint8Array, y: number, x: number) => bytes(a.subarray((y * n + x) * c, (y * n + x + 1) * c)).join(',');
  const seen = new Map<string, number>();
  for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
    if (y < 2 || x < 2) { assert.is(px(out, y, x), px(img, y, x), `(${y}, ${x}) untouched`); continue; }
    const from = [[0, 0], [-1, 0], [0, -1], [-1, -1]].filter(([dy, dx]) => px(img, y + dy, x + dx) === px(out, y, x));
    assert.ok(from.length > 0, `(${y}, ${x}) comes from a neighbour`);
    if (from.length === 1) seen.set(String(from[0]), (seen.get(String(from[0])) ?? 0) + 1);
  }
  const counts = [...seen.values()], total = counts.reduce((a, b) => a + b, 0);
  assert.is(counts.length, 4, 'all four offsets occur');
  for (const k of counts) assert.ok(Math.abs(k / total - 0.25) < 0.06, `offset shares ${[...seen]}`);
});

test('zoom_blur: numpy arange counts, and a vertical edge at the centre stays put', () => {
  assert.is(zoomFactors(1.11, 0.01).length, 12, 'np.arange(1, 1.11, 0.01) has 12 values');
  assert.is(zoomFactors(1.26, 0.02).length, 13);
  assert.is(zoomFactors(1.31, 0.03).length, 11);
  assert.is(zoomFactors(1.06, 0.01).length, 7);
  assert.is(zoomFactors(1.26, 0.01).length, 26);
  assert.ok(Math.abs(zoomFactors(1.21, 0.02)[10] - 1.2) < 1e-12 && zoomFactors(1.21, 0.02)[0] === 1);
  const n = 32;
  const img = new Uint8Array(n * n * 3);
  for (let y = 0; y < n; y++) for (let x = n / 2; x < n; x++) img.fill(255, (y * n + x) * 3, (y * n + x + 1) * 3);
  for (const table of TABLES) {
    for (const s of SEVERITIES) {
      const out = corruptImages(img, [1, n, n, 3], 'zoom_blur', s, { table });
      const row0 = bytes(out.subarray(0, n * 3));
      for (let y = 1; y < n; y++) assert.equal(bytes(out.subarray(y * n * 3, (y + 1) * n * 3)), row0, `${table} ${s}: row ${y}`);
      const profile = row0.filter((_, i) => i % 3 === 0);
      for (let x = 1; x < n; x++) assert.ok(profile[x] >= profile[x - 1], `${table} ${s}: monotone at ${x}`);
      const cross = profile.findIndex((v) => v > 127.5);
      assert.ok(cross >= 15 && cross <= 17, `${table} ${s}: edge at ${cross}, profile ${profile}`);
      assert.is(profile[0], 0); assert.is(profile[n - 1], 255);
      assert.ok(profile[n / 2 - 1] > 0 || profile[n / 2] < 255, `${table} ${s}: the edge is blurred`);
    }
  }
});

test('severity: severity 5 changes a textured image more than severity 1 (at most one dip between)', () => {
  // Some constants are not monotone in their effect (CIFAR glass (0.4,1,1) -> (0.25,1,2) ->
  // (0.4,1,2) trades shuffling for blur; motion blur's angle is drawn per severity).
  const n = 32;
  const img = blocks(n, 3, 21);
  for (const table of TABLES) {
    for (const name of CORRUPTIONS) {
      const change = SEVERITIES.map((s) => meanAbsDiff(corruptImages(img, [1, n, n, 3], name, s, { table, seed: 4 }), img));
      assert.ok(change[4] > change[0], `${name} ${table}: ${change.map((v) => v.toFixed(2))}`);
      const dips = change.slice(1).filter((v, i) => v < change[i]).length;
      assert.ok(dips <= 1, `${name} ${table}: ${change.map((v) => v.toFixed(2))}`);
    }
  }
});

test('corruptions: errors name the bad value', () => {
  const img = flat(8, 8, 3, 100);
  const shape: ImageShape = [1, 8, 8, 3];
  assert.throws(() => corruptImages(img, shape, 'gaussian_noise', 0), (e: Error) => e instanceof RangeError && /severity/.test(e.message) && /\b0\b/.test(e.message) && /1\.\.5/.test(e.message));
  assert.throws(() => corruptImages(img, shape, 'gaussian_noise', 6), (e: Error) => e instanceof RangeError && /got 6/.test(e.message));
  assert.throws(() => corruptImages(img, shape, 'gaussian_noise', 2.5), /got 2\.5/);
  assert.throws(() => corruptImages(img, shape, 'fog' as CorruptionName, 1), (e: Error) => e instanceof RangeError && /'fog'/.test(e.message) && /zoom_blur/.test(e.message));
  assert.throws(() => corruptImages(img, [2, 8, 8, 3], 'zoom_blur', 1), (e: Error) => e instanceof RangeError && /2, 8, 8, 3/.test(e.message) && /384/.test(e.message) && /192/.test(e.message));
  assert.throws(() => corruptImages(img, [1, 8, 8] as unknown as ImageShape, 'zoom_blur', 1), /\[1,8,8\]/);
  assert.throws(() => corruptImages(img, [1, 8, 24, 0], 'zoom_blur', 1), /1,8,24,0/);
  assert.throws(() => corruptImages(img, shape, 'zoom_blur', 1, { table: 'tiny' as CorruptionTable }), /'tiny'/);
  assert.throws(() => corruptImages(img, shape, 'zoom_blur', 1, { seed: 0.5 }), /0\.5/);
});

test('corruptions: every corruption and severity runs on a 32×32×3 image, keeping its shape', () => {
  const img = texture(32, 32, 3, 9);
  for (const name of CORRUPTIONS) {
    for (const s of SEVERITIES) {
      const out = corruptImages(img, [1, 32, 32, 3], name, s);
      assert.is(out.length, img.length);
      assert.ok(out !== img && meanAbsDiff(out, img) > 0, `${name} ${s} changes the image`);
    }
  }
  // Grey images (one channel) and an empty batch work too.
  const grey = texture(12, 20, 1, 10);
  for (const name of CORRUPTIONS) assert.is(corruptImages(grey, [1, 12, 20, 1], name, 3).length, 240);
  assert.is(corruptImages(new Uint8Array(0), [0, 32, 32, 3], 'glass_blur', 2).length, 0);
});

test('zoom blur matches the reference implementation (numpy + scipy golden values, both tables, every severity)', () => {
  // test/fixtures/zoom_blur.json, made by make_zoom_blur_fixture.py from the reference's own code.
  const file = join(dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/zoom_blur.json');
  const fx = JSON.parse(readFileSync(file, 'utf8')) as { shape: [number, number, number]; image: number[] } & Record<string, number[][]>;
  const image = Uint8Array.from(fx.image);
  for (const table of ['cifar', 'imagenet'] as const) {
    for (let sev = 1; sev <= 5; sev++) {
      const ours = corruptImages(image, [1, ...fx.shape], 'zoom_blur', sev, { table });
      const ref = fx[table][sev - 1];
      let worst = 0, differ = 0;
      for (let i = 0; i < ref.length; i++) { worst = Math.max(worst, Math.abs(ours[i] - ref[i])); if (ours[i] !== ref[i]) differ++; }
      // The reference sums in float32; a value within float32 rounding of a half may round the
      // other way (one of 768 does, at ImageNet severity 3).
      assert.ok(worst <= 1 && differ <= 2, `${table} severity ${sev}: ${differ} values differ, by up to ${worst} grey levels`);
    }
  }
});

test.run();
