// The CPU augmentation reference against torchvision/PIL definitions worked out by hand: PIL's
// resampling weights (antialiased downsampling, bicubic a = −0.5), crop/clip/flip geometry,
// each colour op, the contrast mean at its place in the jitter order, blur, solarize, normalise.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu } from '../../src/backend/registry.js';
import { tensor } from '../../src/ops/creation.js';
import { Rng } from '../../src/runtime/rng.js';
import { augmentBatch } from '../../src/data/augment.js';
import {
  adjustHue, axisWeights, colorOps, finish, gaussianBlur, gaussianKernel, jitterOp, luma, reflect, resampleCrop, augmentCpu,
} from '../../src/data/augment_cpu.js';
import { byolViews, IDENTITY_ORDER, P, PARAM_STRIDE, sampleParams, type ViewSpec } from '../../src/data/augment_params.js';
import { testImages } from './augment_fixtures.js';

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-9, what = ''): void {
  assert.is(a.length, b.length, `${what} length`);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

function row(fields: Partial<Record<keyof typeof P, number>>): Float32Array {
  const r = new Float32Array(PARAM_STRIDE);
  r[P.brightness] = 1; r[P.contrast] = 1; r[P.saturation] = 1; r[P.order] = IDENTITY_ORDER;
  for (const [k, v] of Object.entries(fields)) r[P[k as keyof typeof P]] = v!;
  return r;
}

test('PIL bilinear downsampling 4 → 2 widens the triangle (antialias): weights 3/7, 3/7, 1/7', () => {
  const w = axisWeights(0, 4, 2, 0, 4, 'bilinear');
  assert.equal([w[0].lo, w[1].lo], [0, 1]);
  close(w[0].w, [3 / 7, 3 / 7, 1 / 7]);
  close(w[1].w, [1 / 7, 3 / 7, 3 / 7]);
});

test('PIL bicubic (a = −0.5) upsampling 2 → 4: edge weights renormalised inside the clip', () => {
  const w = axisWeights(0, 2, 4, 0, 2, 'bicubic');
  // Output 0: centre 0.25, taps x = 0, 1 at distances 0.25 and 1.25: 0.8671875 and −0.0703125.
  const s = 0.8671875 - 0.0703125;
  assert.is(w[0].lo, 0);
  close(w[0].w, [0.8671875 / s, -0.0703125 / s]);
  // Output 1: centre 0.75, distances 0.75 and 0.25 → 0.5859375... both taps, symmetric partner of output 2.
  close(w[1].w, [...w[2].w].reverse());
});

test('scale-1 crops are exact copies (identity taps), offsets included; flip mirrors', () => {
  const H = 9, W = 11, C = 3;
  const img = testImages(1, H, W, C, 1);
  for (const interp of ['bilinear', 'bicubic'] as const) {
    const r = row({ top: 2, left: 3, height: 5, width: 5, clipToBox: 1 });
    const out = resampleCrop(img, H, W, C, r, 5, interp);
    const flipped = resampleCrop(img, H, W, C, row({ top: 2, left: 3, height: 5, width: 5, clipToBox: 1, flip: 1 }), 5, interp);
    for (let y = 0; y < 5; y++) for (let x = 0; x < 5; x++) for (let c = 0; c < 3; c++) {
      const want = img[((y + 2) * W + x + 3) * C + c] / 255;
      assert.ok(Math.abs(out[(y * 5 + x) * 3 + c] - want) < 1e-12, `${interp} copy at ${y},${x}`);
      assert.ok(Math.abs(flipped[(y * 5 + 4 - x) * 3 + c] - want) < 1e-12, `${interp} flip at ${y},${x}`);
    }
  }
});

test('RandomResizedCrop resamples inside the crop only (PIL crops, then resizes)', () => {
  // 6×6 white image with a black 2×2 centre: upsampling the centre box must stay black.
  const img = new Uint8Array(36 * 3).fill(255);
  for (const [y, x] of [[2, 2], [2, 3], [3, 2], [3, 3]]) img.fill(0, (y * 6 + x) * 3, (y * 6 + x) * 3 + 3);
  const inBox = resampleCrop(img, 6, 6, 3, row({ top: 2, left: 2, height: 2, width: 2, clipToBox: 1 }), 8, 'bicubic');
  assert.ok(inBox.every((v) => v === 0), 'crop-clipped window sees only the black box');
  const whole = resampleCrop(img, 6, 6, 3, row({ top: 2, left: 2, height: 2, width: 2, clipToBox: 0 }), 8, 'bicubic');
  assert.ok(whole[0] > 0.01, 'image-clipped window (centre-crop mode) sees the white border');
});

test('1-channel sources are broadcast to RGB', () => {
  const img = testImages(1, 5, 5, 1, 2);
  const out = resampleCrop(img, 5, 5, 1, row({ height: 5, width: 5, clipToBox: 1 }), 5, 'bicubic');
  for (let i = 0; i < 25; i++) close([out[3 * i], out[3 * i + 1], out[3 * i + 2]], [img[i] / 255, img[i] / 255, img[i] / 255], 1e-12);
});

test('brightness, contrast, saturation: torchvision blends, clamped to [0, 1]', () => {
  const r = row({ brightness: 1.3, contrast: 0.5, saturation: 1.5 });
  const c = [0.9, 0.4, 0.1];
  jitterOp(0, c, r, 0);
  close(c, [1, 0.52, 0.13], 1e-7);
  const d = [0.9, 0.4, 0.1];
  jitterOp(1, d, r, 0.3); // 0.5·x + 0.5·0.3
  close(d, [0.6, 0.35, 0.2], 1e-7);
  const e = [0.6, 0.4, 0.2];
  const l = 0.2989 * 0.6 + 0.587 * 0.4 + 0.114 * 0.2;
  jitterOp(2, e, r, 0);
  close(e, [1.5 * 0.6 - 0.5 * l, 1.5 * 0.4 - 0.5 * l, 1.5 * 0.2 - 0.5 * l], 1e-7);
  assert.ok(Math.abs(luma(1, 1, 1) - 0.9999) < 1e-12, 'torchvision luma weights sum to 0.9999');
});

test('hue: shifts rotate the colour wheel; a zero shift is the identity', () => {
  const red = [1, 0, 0];
  adjustHue(red, 1 / 3);
  close(red, [0, 1, 0], 1e-12, 'red + 1/3 = green');
  const red2 = [1, 0, 0];
  adjustHue(red2, -1 / 6);
  close(red2, [1, 0, 1], 1e-12, 'red − 1/6 = magenta');
  const c = [0.3, 0.6, 0.45];
  adjustHue(c, 0.5); // hue 150° → 330°: max stays on R... v = 0.6, s = 0.5
  close(c, [0.6, 0.3, 0.45], 1e-12, 'half-turn swaps to the complementary hue');
  const rng = new Rng(1);
  for (let k = 0; k < 200; k++) {
    const x = [rng.next(), rng.next(), rng.next()];
    const y = [...x];
    adjustHue(y, 0);
    close(y, x, 1e-12, 'round trip');
  }
  const gray = [0.4, 0.4, 0.4];
  adjustHue(gray, 0.3);
  close(gray, [0.4, 0.4, 0.4], 0, 'greys have no hue');
});

test('contrast uses the grey mean of the image as it is at its place in the order', () => {
  // Two pixels; brightness 0.5, contrast 2. Order B→C: mean after brightness; C→B: before.
  const px = [0.8, 0.6, 0.2, 0.2, 0.3, 0.4];
  const manual = (order: number[]) => {
    let img = [...px];
    for (const op of order) {
      if (op === 0) img = img.map((v) => Math.min(1, 0.5 * v));
      else if (op === 1) {
        const m = (luma(img[0], img[1], img[2]) + luma(img[3], img[4], img[5])) / 2;
        img = img.map((v) => Math.max(0, Math.min(1, 2 * v - m)));
      }
    }
    return img;
  };
  for (const order of [[0, 1, 2, 3], [1, 0, 2, 3]]) {
    const code = order[0] + 4 * order[1] + 16 * order[2] + 64 * order[3];
    const img = Float64Array.from(px);
    colorOps(img, row({ jitter: 1, brightness: 0.5, contrast: 2, order: code }));
    close(img, manual(order), 1e-6, `order ${order}`);
  }
  const a = Float64Array.from(px), b = Float64Array.from(px);
  colorOps(a, row({ jitter: 1, brightness: 0.5, contrast: 2, order: 0 + 4 + 32 + 192 }));
  colorOps(b, row({ jitter: 1, brightness: 0.5, contrast: 2, order: 1 + 0 + 32 + 192 }));
  assert.ok(Math.abs(a[0] - b[0]) > 0.05, 'the order changes the result');
});

test('grayscale: ITU-R 601-2 luma (0.2989, 0.587, 0.114) in all three channels', () => {
  const img = Float64Array.from([0.2, 0.5, 0.9]);
  colorOps(img, row({ gray: 1 }));
  const l = 0.2989 * 0.2 + 0.587 * 0.5 + 0.114 * 0.9;
  close(img, [l, l, l], 1e-12);
});

test('Gaussian blur: torchvision kernel, reflect padding, constant images unchanged', () => {
  const k = gaussianKernel(5, 1);
  const raw = [-2, -1, 0, 1, 2].map((t) => Math.exp(-t * t / 2));
  const s = raw.reduce((a, b) => a + b);
  close(k, raw.map((v) => v / s), 1e-12);
  assert.equal([reflect(-1, 5), reflect(-2, 5), reflect(5, 5), reflect(6, 5), reflect(3, 5)], [1, 2, 3, 2, 3]);
  const S = 40; // kernel size 5 at 40 px
  const flat = new Float64Array(S * S * 3).fill(0.7);
  gaussianBlur(flat, S, 1.3);
  assert.ok(flat.every((v) => Math.abs(v - 0.7) < 1e-12));
  // An impulse at (y 0, x 1): reflect padding makes x = −1 read x = 1, so outputs x = 0 and x = 1
  // receive it twice (x = 0 through taps −1 and +1; x = 1 through 0 and −2).
  const imp = new Float64Array(S * S * 3);
  imp[3] = 1;
  gaussianBlur(imp, S, 1);
  const hx = [2 * k[3], k[2] + k[0], k[3], k[4], 0], vy = [k[2], k[3], k[4], 0];
  close([0, 1, 2, 3, 4].map((x) => imp[3 * x]), hx.map((h) => h * vy[0]), 1e-12, 'row 0');
  close([0, 1, 2, 3].map((y) => imp[3 * (y * S + 1)]), vy.map((v) => hx[1] * v), 1e-12, 'column 1');
});

test('solarize (≥ 0.5 inverted) then normalise', () => {
  const spec = byolViews(8, 0.2, [0.5, 0.4, 0.3], [0.2, 0.25, 0.5])[1];
  const out = new Float32Array(6);
  finish(Float64Array.from([0.2, 0.5, 0.9, 0.49, 0.51, 0.0]), row({ solarize: 1 }), spec, out, 0);
  close(out, [(0.2 - 0.5) / 0.2, (0.5 - 0.4) / 0.25, (0.1 - 0.3) / 0.5, (0.49 - 0.5) / 0.2, (0.49 - 0.4) / 0.25, (0 - 0.3) / 0.5], 1e-6);
});

test('augmentBatch on the cpu backend: shape, determinism by seed, idx selects images', () => {
  const spec: ViewSpec = byolViews(16, 0.2, [0.5], [0.25])[1];
  const imgs = testImages(4, 20, 20, 3, 3);
  const images = tensor(imgs, [4, 20, 20, 3], { backend: cpu(), dtype: 'u8' });
  const idx = tensor(Int32Array.from([3, 1, 3]), [3], { backend: cpu(), dtype: 'i32' });
  const p1 = sampleParams(new Rng(5), 3, 20, 20, spec), p2 = sampleParams(new Rng(5), 3, 20, 20, spec);
  const a = augmentBatch(images, idx, p1, spec), b = augmentBatch(images, idx, p2, spec);
  assert.equal(a.shape, [3, 16, 16, 3]);
  assert.equal(Array.from(a.dataSync()), Array.from(b.dataSync()));
  // Image 0 and 2 are the same source: with the same parameter row, the same view.
  const same = new Float32Array(2 * PARAM_STRIDE);
  same.set(p1.subarray(0, PARAM_STRIDE), 0); same.set(p1.subarray(0, PARAM_STRIDE), PARAM_STRIDE);
  const two = augmentCpu(imgs, [4, 20, 20, 3], [3, 3], same, spec);
  close(two.subarray(0, 768), two.subarray(768), 0);
  assert.throws(() => augmentBatch(images, idx, p1.subarray(0, 16), spec), /rows/);
  assert.throws(() => augmentCpu(imgs, [4, 20, 20, 3], [4], p1.subarray(0, 16), spec), /outside/);
});

test.run();
