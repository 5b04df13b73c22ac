// Random augmentation parameters (src/data/augment_params.ts): torchvision's RandomResizedCrop
// sampling and fallback, and the rates and ranges of every random decision over 20k draws
// (3σ bounds; fixed seeds, so these are deterministic checks of honest statistical thresholds).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rng } from '../../src/runtime/rng.js';
import {
  byolViews, blurKernelSize, centerCropBox, evalView, jitterOrder, multiCropView, P, PARAM_STRIDE, roundHalfEven,
  sampleCropBox, sampleParams,
} from '../../src/data/augment_params.js';

const MEAN = [0.485, 0.456, 0.406], STD = [0.229, 0.224, 0.225];
const DRAWS = 20000;

function column(params: Float32Array, field: number, where?: (row: Float32Array) => boolean): number[] {
  const out: number[] = [];
  for (let i = 0; i < params.length; i += PARAM_STRIDE) {
    const row = params.subarray(i, i + PARAM_STRIDE);
    if (!where || where(row)) out.push(row[field]);
  }
  return out;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function assertRate(what: string, xs: number[], p: number, k = 3): void {
  const rate = mean(xs), sigma = Math.sqrt(p * (1 - p) / xs.length);
  assert.ok(Math.abs(rate - p) <= k * sigma + 1e-12, `${what}: rate ${rate.toFixed(4)} vs p = ${p} (${k}σ = ${(k * sigma).toFixed(4)})`);
}

/**
 * Uniform on [lo, hi]: inside the range, mean within 3σ, and the mass of the outer quarters
 * within 4σ (eight quarter checks per test: 4σ keeps the family-wise false alarm rate small).
 */
function assertUniform(what: string, xs: number[], lo: number, hi: number): void {
  const eps = 1e-6 * Math.max(1, Math.abs(hi));
  assert.ok(xs.every((x) => x >= lo - eps && x <= hi + eps), `${what}: value outside [${lo}, ${hi}]`);
  const m = mean(xs), sd = (hi - lo) / Math.sqrt(12);
  assert.ok(Math.abs(m - (lo + hi) / 2) <= 3 * sd / Math.sqrt(xs.length), `${what}: mean ${m} vs ${(lo + hi) / 2}`);
  assertRate(`${what} lower quarter`, xs.map((x) => (x < lo + (hi - lo) / 4 ? 1 : 0)), 0.25, 4);
  assertRate(`${what} upper quarter`, xs.map((x) => (x > hi - (hi - lo) / 4 ? 1 : 0)), 0.25, 4);
}

test('Python round(): halves to even', () => {
  assert.equal([0.5, 1.5, 2.5, 3.5, 2.4, 2.6, -1.5, 7].map(roundHalfEven), [0, 2, 2, 4, 2, 3, -2, 7]);
});

test('RandomResizedCrop boxes: inside the image, area fraction in scale, ratio in range', () => {
  const rng = new Rng(1);
  const scale: [number, number] = [0.2, 1], ratio: [number, number] = [3 / 4, 4 / 3];
  let fallbacks = 0;
  const fractions: number[] = [];
  for (let k = 0; k < DRAWS; k++) {
    const [top, left, h, w] = sampleCropBox(rng, 224, 224, scale, ratio);
    assert.ok(top >= 0 && left >= 0 && top + h <= 224 && left + w <= 224, `box ${[top, left, h, w]} outside 224²`);
    assert.ok(Number.isInteger(top) && Number.isInteger(left) && Number.isInteger(h) && Number.isInteger(w));
    if (h === 224 && w === 224) { fallbacks++; continue; }
    const f = (h * w) / (224 * 224);
    // Rounding w and h to integers moves the area by at most ~(w + h)/2 + 1/4 pixels.
    const slack = ((w + h) / 2 + 0.25) / (224 * 224);
    assert.ok(f >= scale[0] - slack && f <= scale[1] + slack, `area fraction ${f}`);
    const r = w / h, rs = 0.5 / Math.min(w, h);
    assert.ok(r >= ratio[0] * (1 - 2 * rs) && r <= ratio[1] * (1 + 2 * rs), `aspect ${r} (box ${w}×${h})`);
    fractions.push(f);
  }
  // The fallback (whole image) is rare for a square image: only when 10 tries all overflow.
  assert.ok(fallbacks < DRAWS * 0.01, `${fallbacks} fallbacks`);
  assert.ok(Math.min(...fractions) < 0.21 && Math.max(...fractions) > 0.95, 'fractions cover the range');
});

test('RandomResizedCrop placement is uniform over valid offsets', () => {
  const rng = new Rng(2);
  const xs: number[] = [];
  for (let k = 0; k < DRAWS; k++) {
    const [, left, , w] = sampleCropBox(rng, 64, 64, [0.2, 1], [3 / 4, 4 / 3]);
    if (w < 64) xs.push(left / (64 - w)); // position within the free range, uniform on {0..64−w}/(64−w)
  }
  const m = mean(xs);
  assert.ok(Math.abs(m - 0.5) < 3 * 0.3 / Math.sqrt(xs.length) + 0.01, `mean relative offset ${m}`);
});

test('RandomResizedCrop fallback is torchvision\'s centred, ratio-clamped crop', () => {
  const rng = new Rng(3);
  // Scale above 1 never fits: every call falls back.
  assert.equal(sampleCropBox(rng, 224, 224, [1.5, 2], [3 / 4, 4 / 3]), [0, 0, 224, 224]);
  // Wide image (ratio 3 > 4/3): full height, width = round(100·4/3) = 133, centred.
  assert.equal(sampleCropBox(rng, 100, 300, [1.5, 2], [3 / 4, 4 / 3]), [0, 83, 100, 133]);
  // Tall image (ratio 1/3 < 3/4): full width, height = round(90 / 0.75) = 120, centred.
  assert.equal(sampleCropBox(rng, 300, 90, [1.5, 2], [3 / 4, 4 / 3]), [90, 0, 120, 90]);
});

test('flip, jitter, grayscale, solarize and blur rates match their probabilities', () => {
  const [v1, v2] = byolViews(224, 0.2, MEAN, STD);
  const p1 = sampleParams(new Rng(4), DRAWS, 224, 224, v1);
  const p2 = sampleParams(new Rng(5), DRAWS, 224, 224, v2);
  assertRate('flip', column(p1, P.flip), 0.5);
  assertRate('jitter', column(p2, P.jitter), 0.8);
  assertRate('grayscale', column(p1, P.gray), 0.2);
  assertRate('view-2 solarize', column(p2, P.solarize), 0.2);
  assertRate('view-2 blur', column(p2, P.sigma).map((s) => (s > 0 ? 1 : 0)), 0.1);
  assert.ok(column(p1, P.sigma).every((s) => s > 0), 'view 1 is always blurred');
  assert.ok(column(p1, P.solarize).every((s) => s === 0), 'view 1 is never solarised');
});

test('jitter factors are uniform in torchvision\'s ranges; identity when not applied', () => {
  const [v1] = byolViews(32, 0.08, MEAN, STD);
  const p = sampleParams(new Rng(6), DRAWS, 32, 32, v1);
  const on = (r: Float32Array) => r[P.jitter] === 1;
  assertUniform('brightness', column(p, P.brightness, on), 0.6, 1.4);
  assertUniform('contrast', column(p, P.contrast, on), 0.6, 1.4);
  assertUniform('saturation', column(p, P.saturation, on), 0.8, 1.2);
  assertUniform('hue', column(p, P.hue, on), -0.1, 0.1);
  const off = (r: Float32Array) => r[P.jitter] === 0;
  assert.ok(column(p, P.brightness, off).every((v) => v === 1) && column(p, P.hue, off).every((v) => v === 0));
});

test('jitter order is a uniformly random permutation of the four ops', () => {
  const [v1] = byolViews(32, 0.08, MEAN, STD);
  const p = sampleParams(new Rng(7), DRAWS, 32, 32, v1);
  const counts = new Map<string, number>();
  const orders = column(p, P.order, (r) => r[P.jitter] === 1);
  for (const code of orders) {
    const o = jitterOrder(code);
    assert.equal([...o].sort(), [0, 1, 2, 3], `order ${o} is a permutation`);
    counts.set(o.join(''), (counts.get(o.join('')) ?? 0) + 1);
  }
  assert.is(counts.size, 24);
  const expected = orders.length / 24, sigma = Math.sqrt(orders.length * (1 / 24) * (23 / 24));
  for (const [o, c] of counts) assert.ok(Math.abs(c - expected) <= 4 * sigma, `order ${o}: ${c} vs ${expected.toFixed(0)}`);
});

test('blur σ ~ U(0.1, 2) and kernel sizes (23 px at 224)', () => {
  const [v1] = byolViews(224, 0.2, MEAN, STD);
  assertUniform('sigma', column(sampleParams(new Rng(8), DRAWS, 224, 224, v1), P.sigma), 0.1, 2);
  assert.is(blurKernelSize(224), 23);
  assert.is(blurKernelSize(96), 9);
  assert.is(blurKernelSize(160), 17);
});

test('recipes: BYOL asymmetry, no blur on small images, multi-crop, eval', () => {
  const [a, b] = byolViews(224, 0.08, MEAN, STD);
  assert.equal([a.blurP, a.solarizeP, b.blurP, b.solarizeP], [1, 0, 0.1, 0.2]);
  assert.equal(a.cropScale, [0.08, 1]);
  assert.is(a.interpolation, 'bicubic');
  const [s1, s2] = byolViews(64, 0.2, [0.5], [0.25]);
  assert.equal([s1.blurP, s2.blurP], [0, 0]);
  assert.equal(s1.mean, [0.5, 0.5, 0.5]);
  assert.is(multiCropView(96, [0.05, 0.14], MEAN, STD).blurP, 0.5);
  assert.is(multiCropView(32, [0.05, 0.14], MEAN, STD).blurP, 0);
  const e = evalView(32, MEAN, STD);
  const pe = sampleParams(new Rng(9), 4, 32, 32, e);
  for (let i = 0; i < 4; i++) {
    const row = pe.subarray(i * PARAM_STRIDE, (i + 1) * PARAM_STRIDE);
    assert.equal(Array.from(row.subarray(0, 6)), [0, 0, 32, 32, 0, 0], 'identity crop, no flip, no jitter');
    assert.equal([row[P.gray], row[P.sigma], row[P.solarize]], [0, 0, 0]);
  }
});

test('centre crop box = Resize(256) + CenterCrop(224) in source pixels', () => {
  // 375×500 source: short side → 256, long → floor(256·500/375) = 341; crop offsets round(16) and
  // round(58.5) = 58 (half to even).
  const [top, left, h, w] = centerCropBox(375, 500, 224, 0.875);
  const sy = 375 / 256, sx = 500 / 341;
  assert.ok(Math.abs(top - 16 * sy) < 1e-9 && Math.abs(left - 58 * sx) < 1e-9);
  assert.ok(Math.abs(h - 224 * sy) < 1e-9 && Math.abs(w - 224 * sx) < 1e-9);
  assert.equal(centerCropBox(32, 32, 32, 1), [0, 0, 32, 32]);
});

test('same seed gives the same parameters, another seed different ones', () => {
  const [v1] = byolViews(224, 0.2, MEAN, STD);
  const a = sampleParams(new Rng(42), 64, 224, 224, v1), b = sampleParams(new Rng(42), 64, 224, 224, v1);
  const c = sampleParams(new Rng(43), 64, 224, 224, v1);
  assert.equal(Array.from(a), Array.from(b));
  assert.not.equal(Array.from(a), Array.from(c));
});

test.run();
