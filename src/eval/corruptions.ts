// Common image corruptions of Hendrycks & Dietterich (ICLR 2019, "Benchmarking Neural Network
// Robustness to Common Corruptions and Perturbations"): the noise and blur families of ImageNet-C
// and CIFAR-10-C, computed on the CPU. The constants are those of the reference code
// (ImageNet-C/imagenet_c/corruptions.py and ImageNet-C/create_c/make_cifar_c.py in
// hendrycks/robustness), as the project's spec lists them; the algorithms follow that code
// (numpy, OpenCV, scikit-image, scipy and ImageMagick calls) as closely as plain TypeScript allows.
// Where this file departs from it, a comment says so and why.
//
// Images are NHWC uint8. Each image is scaled to [0, 1] in float64, corrupted, clipped to [0, 1]
// and rounded back to uint8. (The reference stores with np.uint8, which truncates; rounding
// avoids a systematic -0.5 grey-level bias and keeps a flat image flat under the blurs.)
import { Rng } from '../runtime/rng.js';

export const CORRUPTIONS = ['gaussian_noise', 'shot_noise', 'impulse_noise', 'defocus_blur', 'glass_blur', 'motion_blur', 'zoom_blur'] as const;
export type CorruptionName = typeof CORRUPTIONS[number];
export type CorruptionTable = 'imagenet' | 'cifar';
export type ImageShape = [count: number, h: number, w: number, c: number];

export interface CorruptOptions {
  /** Which constants: ImageNet-C or CIFAR-10-C. Default: defaultTable(max(h, w)). */
  table?: CorruptionTable;
  /** Seed of every random draw (noise, glass-blur shuffles, motion-blur angle). Default 0. */
  seed?: number;
  /**
   * Index of the first image of `images` in the whole set (default 0). Image i is seeded from
   * (seed, firstIndex + i, corruption, severity), so a set corrupted in chunks gives the same
   * bytes as the set corrupted at once, whatever the chunking.
   */
  firstIndex?: number;
}

/** 'cifar' for images of at most 64 px (CIFAR-10-C constants), 'imagenet' otherwise. */
export function defaultTable(size: number): CorruptionTable {
  return size <= 64 ? 'cifar' : 'imagenet';
}

// ---------------------------------------------------------------------------------------------
// Constants, one table per corruption, indexed by severity - 1.

type Levels<T> = readonly [T, T, T, T, T];
type PerTable<T> = Readonly<Record<CorruptionTable, Levels<T>>>;

/** gaussian_noise: standard deviation of the added noise. */
const GAUSSIAN_SIGMA: PerTable<number> = {
  imagenet: [0.08, 0.12, 0.18, 0.26, 0.38],
  cifar: [0.04, 0.06, 0.08, 0.09, 0.10],
};
/** shot_noise: photons per unit intensity (Poisson(x·c)/c). */
const SHOT_PHOTONS: PerTable<number> = {
  imagenet: [60, 25, 12, 5, 3],
  cifar: [500, 250, 100, 75, 50],
};
/** impulse_noise: share of values replaced by salt (1) or pepper (0). */
const IMPULSE_AMOUNT: PerTable<number> = {
  imagenet: [0.03, 0.06, 0.09, 0.17, 0.27],
  cifar: [0.01, 0.02, 0.03, 0.05, 0.07],
};
/** defocus_blur: [disk radius, anti-alias sigma]. */
const DEFOCUS: PerTable<readonly [number, number]> = {
  imagenet: [[3, 0.1], [4, 0.5], [6, 0.5], [8, 0.5], [10, 0.5]],
  cifar: [[0.3, 0.4], [0.4, 0.5], [0.5, 0.6], [1, 0.2], [1.5, 0.1]],
};
/** glass_blur: [gaussian sigma, max displacement δ, iterations]. */
const GLASS: PerTable<readonly [number, number, number]> = {
  imagenet: [[0.7, 1, 2], [0.9, 2, 1], [1, 2, 3], [1.1, 3, 2], [1.5, 4, 2]],
  cifar: [[0.05, 1, 1], [0.25, 1, 1], [0.4, 1, 1], [0.25, 1, 2], [0.4, 1, 2]],
};
/** motion_blur: [radius, sigma] of ImageMagick's motion blur. */
const MOTION: PerTable<readonly [number, number]> = {
  imagenet: [[10, 3], [15, 5], [15, 8], [15, 12], [20, 15]],
  cifar: [[6, 1], [6, 1.5], [6, 2], [8, 2], [9, 2.5]],
};
/** zoom_blur: zoom factors np.arange(1, stop, step), as [stop, step]. */
const ZOOM: PerTable<readonly [number, number]> = {
  imagenet: [[1.11, 0.01], [1.16, 0.01], [1.21, 0.02], [1.26, 0.02], [1.31, 0.03]],
  cifar: [[1.06, 0.01], [1.11, 0.01], [1.16, 0.01], [1.21, 0.01], [1.26, 0.01]],
};

// ---------------------------------------------------------------------------------------------
// Entry point.

/**
 * Corrupts every image of a batch at severity 1..5; returns a new array of the same shape.
 * Deterministic given the seed; an image's result depends only on (seed, firstIndex + its
 * position in `images`, corruption, severity), not on the other images of the batch.
 */
export function corruptImages(images: Uint8Array, shape: ImageShape, name: CorruptionName, severity: number, opts: CorruptOptions = {}): Uint8Array {
  const nameIndex = (CORRUPTIONS as readonly string[]).indexOf(name);
  if (nameIndex < 0) throw new RangeError(`corruptImages: unknown corruption '${String(name)}', expected one of ${CORRUPTIONS.join(', ')}`);
  if (!Number.isInteger(severity) || severity < 1 || severity > 5) throw new RangeError(`corruptImages: severity must be an integer in 1..5, got ${severity}`);
  checkShape(images, shape);
  const [count, h, w, c] = shape;
  const table = opts.table ?? defaultTable(Math.max(h, w));
  if (table !== 'imagenet' && table !== 'cifar') throw new RangeError(`corruptImages: unknown table '${String(table)}', expected 'imagenet' or 'cifar'`);
  const seed = opts.seed ?? 0, firstIndex = opts.firstIndex ?? 0;
  if (!Number.isInteger(seed)) throw new RangeError(`corruptImages: seed must be an integer, got ${seed}`);
  if (!Number.isInteger(firstIndex) || firstIndex < 0) throw new RangeError(`corruptImages: firstIndex must be a non-negative integer, got ${firstIndex}`);

  const dims: Dims = { h, w, c };
  const level = severity - 1;
  const per = h * w * c;
  const corrupt = makeCorruptor(name, table, level, dims);
  const out = new Uint8Array(images.length);
  const x = new Float64Array(per);
  for (let i = 0; i < count; i++) {
    const off = i * per;
    for (let j = 0; j < per; j++) x[j] = images[off + j] / 255;
    const y = corrupt(x, imageRng(seed, firstIndex + i, nameIndex, severity));
    for (let j = 0; j < per; j++) out[off + j] = toByte(y[j]);
  }
  return out;
}

interface Dims { h: number; w: number; c: number }

/** Corrupts one image (x in [0, 1], may be overwritten) with its own generator. */
type Corruptor = (x: Float64Array, rng: Rng) => Float64Array;

/** The corruption at one severity, with what does not depend on the image (kernels, plans) built once. */
function makeCorruptor(name: CorruptionName, table: CorruptionTable, level: number, d: Dims): Corruptor {
  switch (name) {
    case 'gaussian_noise': { const sigma = GAUSSIAN_SIGMA[table][level]; return (x, rng) => gaussianNoise(x, sigma, rng); }
    case 'shot_noise': { const photons = SHOT_PHOTONS[table][level]; return (x, rng) => shotNoise(x, photons, rng); }
    case 'impulse_noise': { const amount = IMPULSE_AMOUNT[table][level]; return (x, rng) => impulseNoise(x, amount, rng); }
    case 'defocus_blur': return defocusBlur(d, DEFOCUS[table][level]);
    case 'glass_blur': { const c = GLASS[table][level]; return (x, rng) => glassBlur(x, d, c, rng); }
    case 'motion_blur': { const c = MOTION[table][level]; return (x, rng) => motionBlur(x, d, c, rng); }
    case 'zoom_blur': return zoomBlur(d, zoomFactors(...ZOOM[table][level]));
  }
}

function checkShape(images: Uint8Array, shape: ImageShape): void {
  const ok = Array.isArray(shape) && shape.length === 4 && shape.every((v) => Number.isInteger(v) && v >= 0) && shape[1] > 0 && shape[2] > 0 && shape[3] > 0;
  if (!ok) throw new RangeError(`corruptImages: shape must be [count, h, w, c] with integer count >= 0 and h, w, c >= 1, got [${String(shape)}]`);
  const total = shape[0] * shape[1] * shape[2] * shape[3];
  if (total !== images.length) throw new RangeError(`corruptImages: shape [${shape.join(', ')}] holds ${total} values but the array has ${images.length}`);
}

function toByte(v: number): number {
  return Math.round((v < 0 ? 0 : v > 1 ? 1 : v) * 255);
}

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** A per-image generator, so an image's draws never depend on the rest of the batch. */
function imageRng(seed: number, index: number, nameIndex: number, severity: number): Rng {
  let s = mix32((seed >>> 0) ^ 0x6a09e667);
  s = mix32((s + (index >>> 0)) >>> 0);
  s = mix32((s ^ Math.floor(index / 4294967296)) >>> 0);
  s = mix32((s ^ Math.imul(nameIndex + 1, 0x9e3779b1) ^ severity) >>> 0);
  return new Rng(s);
}

// ---------------------------------------------------------------------------------------------
// Noise. Every value (each channel of each pixel) gets its own draw, in NHWC order.

function gaussianNoise(x: Float64Array, sigma: number, rng: Rng): Float64Array {
  for (let j = 0; j < x.length; j++) x[j] += sigma * rng.normal();
  return x;
}

function shotNoise(x: Float64Array, photons: number, rng: Rng): Float64Array {
  for (let j = 0; j < x.length; j++) x[j] = poisson(rng, x[j] * photons) / photons;
  return x;
}

/**
 * skimage random_noise(mode='s&p', salt_vs_pepper=0.5): each value is flipped with probability
 * `amount`, and a flipped value is salt or pepper with probability 1/2. One uniform draw decides
 * both (u < amount/2: salt; u < amount: pepper), which has the same distribution.
 */
function impulseNoise(x: Float64Array, amount: number, rng: Rng): Float64Array {
  const salt = amount * 0.5;
  for (let j = 0; j < x.length; j++) {
    const u = rng.next();
    if (u < amount) x[j] = u < salt ? 1 : 0;
  }
  return x;
}

/**
 * Poisson(lam) sample, with numpy's own algorithms (so exact at every lam, no normal
 * approximation): multiplication of uniforms (Knuth) for lam < 10, Hörmann's PTRS transformed
 * rejection for lam >= 10 (W. Hörmann, "The transformed rejection method for generating Poisson
 * random variables", 1993).
 */
export function poisson(rng: Rng, lam: number): number {
  if (!(lam >= 0)) throw new RangeError(`poisson: lambda must be >= 0, got ${lam}`);
  if (lam === 0) return 0;
  if (lam < 10) {
    const limit = Math.exp(-lam);
    let k = 0, prod = rng.next();
    while (prod > limit) { k++; prod *= rng.next(); }
    return k;
  }
  const slam = Math.sqrt(lam), loglam = Math.log(lam);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const invalpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = rng.next() - 0.5;
    const v = rng.next();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor((2 * a / us + b) * u + lam + 0.43);
    if (us >= 0.07 && v <= vr) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (Math.log(v) + Math.log(invalpha) - Math.log(a / (us * us) + b) <= -lam + k * loglam - logGamma(k + 1)) return k;
  }
}

const LOGGAM_COEF = [8.333333333333333e-02, -2.777777777777778e-03, 7.936507936507937e-04, -5.952380952380952e-04,
  8.417508417508418e-04, -1.917526917526918e-03, 6.410256410256410e-03, -2.955065359477124e-02, 1.796443723688307e-01,
  -1.39243221690590e+00];

/** log Γ(x) for x >= 1 by Stirling's series, shifted up to x >= 7 (numpy's random_loggam). */
function logGamma(x: number): number {
  if (x === 1 || x === 2) return 0;
  const n = x < 7 ? Math.floor(7 - x) : 0;
  let x0 = x + n;
  const x2 = 1 / (x0 * x0);
  let gl0 = LOGGAM_COEF[9];
  for (let k = 8; k >= 0; k--) gl0 = gl0 * x2 + LOGGAM_COEF[k];
  let gl = gl0 / x0 + 0.5 * Math.log(2 * Math.PI) + (x0 - 0.5) * Math.log(x0) - x0;
  for (let k = 1; k <= n; k++) { gl -= Math.log(x0 - 1); x0 -= 1; }
  return gl;
}

// ---------------------------------------------------------------------------------------------
// Filtering helpers (interleaved HWC float64 planes; every channel filtered alike).

type Border = (i: number, n: number) => number;

/** OpenCV's BORDER_REFLECT_101 (...cb|abcd|cb...), repeated for kernels wider than the image. */
const reflect101: Border = (i, n) => {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
};

/** scipy.ndimage mode 'nearest' (and ImageMagick's default 'edge' virtual pixels). */
const clampEdge: Border = (i, n) => (i < 0 ? 0 : i >= n ? n - 1 : i);

/** Source index of each padded coordinate -r .. n-1+r, stored at [0, n + 2r). */
function borderMap(n: number, r: number, border: Border): Int32Array {
  const m = new Int32Array(n + 2 * r);
  for (let i = 0; i < m.length; i++) m[i] = border(i - r, n);
  return m;
}

/** Correlation with a symmetric 1-D kernel (length 2r+1) along rows (axis 'x') or columns. */
function filter1d(src: Float64Array, d: Dims, kernel: Float64Array, axis: 'x' | 'y', border: Border): Float64Array {
  const { h, w, c } = d;
  const r = (kernel.length - 1) / 2;
  const dst = new Float64Array(src.length);
  const n = axis === 'x' ? w : h;
  const map = borderMap(n, r, border);
  const stride = axis === 'x' ? c : w * c;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const along = axis === 'x' ? x : y;
      const base = axis === 'x' ? y * w * c : x * c;
      const o = (y * w + x) * c;
      for (let ch = 0; ch < c; ch++) {
        let s = 0;
        for (let t = 0; t < kernel.length; t++) s += kernel[t] * src[base + map[along + t] * stride + ch];
        dst[o + ch] = s;
      }
    }
  }
  return dst;
}

/** Normalised sampled Gaussian exp(-t²/2σ²), t = -r..r. */
function gaussianTaps(sigma: number, r: number): Float64Array {
  const k = new Float64Array(2 * r + 1);
  let sum = 0;
  for (let t = -r; t <= r; t++) sum += k[t + r] = Math.exp(-0.5 * t * t / (sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

/** skimage.filters.gaussian(x, sigma, multichannel): scipy gaussian_filter, truncate 4, 'nearest'. */
function skimageGaussian(x: Float64Array, d: Dims, sigma: number): Float64Array {
  const r = Math.floor(4 * sigma + 0.5);
  if (r === 0) return x; // a single tap of weight 1
  const k = gaussianTaps(sigma, r);
  return filter1d(filter1d(x, d, k, 'y', clampEdge), d, k, 'x', clampEdge);
}

// ---------------------------------------------------------------------------------------------
// defocus_blur

/**
 * imagenet_c's disk(radius, alias_blur): the aliased disk X²+Y² <= radius² on the grid
 * -8..8 (radius <= 8) or -radius..radius, normalised to sum 1, then smoothed by OpenCV's
 * GaussianBlur(ksize 3 or 5, sigmaX = alias) with its reflect-101 border. A radius below 1
 * keeps only the centre tap before smoothing. Returns the size×size weights, row-major, summing to 1.
 */
export function defocusKernel(radius: number, alias: number): { size: number; weights: Float64Array } {
  const half = radius <= 8 ? 8 : Math.ceil(radius);
  const ksize = radius <= 8 ? 3 : 5;
  const size = 2 * half + 1;
  const disk = new Float64Array(size * size);
  let sum = 0;
  for (let y = -half; y <= half; y++) {
    for (let x = -half; x <= half; x++) {
      if (x * x + y * y <= radius * radius) { disk[(y + half) * size + x + half] = 1; sum++; }
    }
  }
  for (let i = 0; i < disk.length; i++) disk[i] /= sum;
  const taps = gaussianTaps(alias, (ksize - 1) / 2); // cv::getGaussianKernel for sigma > 0
  const d: Dims = { h: size, w: size, c: 1 };
  const weights = filter1d(filter1d(disk, d, taps, 'x', reflect101), d, taps, 'y', reflect101);
  // Renormalised: where the disk touches the grid's edge (radius 8 and 10), the reflect-101
  // border makes the reference's smoothed kernel sum to 1.013 and 1.011, a brightness gain the
  // normalisation above shows was not intended; here a flat image stays flat.
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i];
  for (let i = 0; i < weights.length; i++) weights[i] /= total;
  return { size, weights };
}

/** cv2.filter2D per channel (correlation, anchor at the centre, reflect-101 border). */
function defocusBlur(d: Dims, [radius, alias]: readonly [number, number]): Corruptor {
  const { size, weights } = defocusKernel(radius, alias);
  const r = (size - 1) / 2;
  // Only the taps that are not zero (the smoothed disk is far smaller than its grid).
  const tapY: number[] = [], tapX: number[] = [], tapW: number[] = [];
  for (let ky = 0; ky < size; ky++) {
    for (let kx = 0; kx < size; kx++) {
      const wgt = weights[ky * size + kx];
      if (wgt !== 0) { tapY.push(ky); tapX.push(kx); tapW.push(wgt); }
    }
  }
  const { h, w, c } = d;
  const rows = borderMap(h, r, reflect101), cols = borderMap(w, r, reflect101);
  return (x) => {
    const out = new Float64Array(x.length);
    for (let y = 0; y < h; y++) {
      for (let xx = 0; xx < w; xx++) {
        const o = (y * w + xx) * c;
        for (let t = 0; t < tapW.length; t++) {
          const src = (rows[y + tapY[t]] * w + cols[xx + tapX[t]]) * c;
          const wgt = tapW[t];
          for (let ch = 0; ch < c; ch++) out[o + ch] += wgt * x[src + ch];
        }
      }
    }
    return out;
  };
}

// ---------------------------------------------------------------------------------------------
// glass_blur

/**
 * Gaussian blur, local pixel shuffling, Gaussian blur. The loops and the draws follow the
 * reference: for h = H-δ down to δ+1, for w = W-δ down to δ+1, dx then dy uniform in [-δ, δ).
 *
 * The reference's "swap" `x[h, w], x[h', w'] = x[h', w'], x[h, w]` acts on numpy views, so it
 * copies (h', w') into (h, w) and leaves (h', w') as it was; that copy is what ImageNet-C and
 * CIFAR-10-C contain, and what is done here. The reference also truncates the intermediate image
 * to uint8; it stays float64 here (same reason as the rounding in the header).
 */
function glassBlur(x: Float64Array, d: Dims, [sigma, delta, iterations]: readonly [number, number, number], rng: Rng): Float64Array {
  const { h: H, w: W, c } = d;
  const y = skimageGaussian(x, d, sigma);
  for (let it = 0; it < iterations; it++) {
    for (let h = H - delta; h > delta; h--) {
      for (let w = W - delta; w > delta; w--) {
        const dx = rng.int(2 * delta) - delta;
        const dy = rng.int(2 * delta) - delta;
        const hp = h + dy, wp = w + dx;
        if (hp < 0 || hp >= H || wp < 0 || wp >= W || h >= H || w >= W) continue; // never, for δ >= 1
        const to = (h * W + w) * c, from = (hp * W + wp) * c;
        for (let ch = 0; ch < c; ch++) y[to + ch] = y[from + ch];
      }
    }
  }
  return skimageGaussian(y, d, sigma);
}

// ---------------------------------------------------------------------------------------------
// motion_blur

/**
 * ImageMagick's MotionBlurImage (via Wand), at an angle uniform in [-45°, 45°]: one-sided, the
 * output is Σ_k w_k · x(p + offset_k), k = 0 .. width-1, width = 2·ceil(radius)+1,
 * w_k ∝ exp(-k²/2σ²), offset_k = (round(k cos θ), round(k sin θ)) in (column, row), edge pixels
 * repeated outside the image. ImageMagick rounds the offsets to whole pixels (ceil(v - 0.5)) and
 * does not interpolate, so neither does this. Its uint8 → Quantum → PNG round trip is skipped.
 */
function motionBlur(x: Float64Array, d: Dims, [radius, sigma]: readonly [number, number], rng: Rng): Float64Array {
  const angle = rng.uniform(-45, 45);
  const width = 2 * Math.ceil(radius) + 1; // GetOptimalKernelWidth1D for radius > 0 (every table entry)
  const weights = new Float64Array(width);
  let sum = 0;
  for (let k = 0; k < width; k++) sum += weights[k] = Math.exp(-(k * k) / (2 * sigma * sigma));
  for (let k = 0; k < width; k++) weights[k] /= sum;
  // As ImageMagick computes them: point = width·(sin θ, cos θ), offset = ceil(k·point/|point| - 0.5).
  const rad = angle * Math.PI / 180;
  const px = width * Math.sin(rad), py = width * Math.cos(rad), len = Math.hypot(px, py);
  const offX = new Int32Array(width), offY = new Int32Array(width);
  for (let k = 0; k < width; k++) {
    offX[k] = Math.ceil(k * py / len - 0.5);
    offY[k] = Math.ceil(k * px / len - 0.5);
  }
  const { h, w, c } = d;
  const out = new Float64Array(x.length);
  for (let y = 0; y < h; y++) {
    for (let xx = 0; xx < w; xx++) {
      const o = (y * w + xx) * c;
      for (let k = 0; k < width; k++) {
        const sy = clampEdge(y + offY[k], h), sx = clampEdge(xx + offX[k], w);
        const src = (sy * w + sx) * c, wgt = weights[k];
        for (let ch = 0; ch < c; ch++) out[o + ch] += wgt * x[src + ch];
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// zoom_blur

/**
 * np.arange(1, stop, step) exactly as numpy computes it in float64: ceil((stop - 1)/step) values
 * 1 + i·((1 + step) - 1). Float error is part of the reference: np.arange(1, 1.11, 0.01) has 12
 * values (1.00 .. 1.11, since 0.11/0.01 = 11.000000000000009), np.arange(1, 1.26, 0.02) has 13
 * (up to 1.24). The published data sets were made with these counts, so they are kept.
 */
export function zoomFactors(stop: number, step: number): number[] {
  const n = Math.ceil((stop - 1) / step);
  const delta = (1 + step) - 1;
  return Array.from({ length: n }, (_, i) => 1 + i * delta);
}

/** Python's round(): half to even (scipy's zoom sizes its output with it). */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * One axis of clipped_zoom: the central crop of ceil(n/z) samples (starting at (n - crop) // 2),
 * upsampled by scipy.ndimage.zoom(order=1) to round(crop·z) >= n samples (output i reads input
 * i·(crop-1)/(out-1)), trimmed to its central n (from (out - n) // 2). For each output i: the two
 * source indices and the weight of the second.
 */
function zoomAxis(n: number, z: number): { i0: Int32Array; i1: Int32Array; f: Float64Array } {
  const crop = Math.ceil(n / z);
  const start = Math.floor((n - crop) / 2);
  const size = roundHalfEven(crop * z);
  const trim = Math.floor((size - n) / 2);
  const scale = size > 1 ? (crop - 1) / (size - 1) : 1;
  const i0 = new Int32Array(n), i1 = new Int32Array(n), f = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const p = Math.min((i + trim) * scale, crop - 1);
    const k = Math.floor(p);
    i0[i] = start + k;
    i1[i] = start + Math.min(k + 1, crop - 1);
    f[i] = p - k;
  }
  return { i0, i1, f };
}

/** (x + Σ_z clipped_zoom(x, z)) / (count + 1). */
function zoomBlur(d: Dims, factors: readonly number[]): Corruptor {
  const { h, w, c } = d;
  const plans = factors.map((z) => ({ ry: zoomAxis(h, z), rx: zoomAxis(w, z) }));
  const norm = 1 / (factors.length + 1);
  return (x) => {
    const out = Float64Array.from(x);
    for (const { ry, rx } of plans) {
      for (let y = 0; y < h; y++) {
        const a0 = ry.i0[y] * w, a1 = ry.i1[y] * w, fy = ry.f[y];
        for (let xx = 0; xx < w; xx++) {
          const b0 = rx.i0[xx], b1 = rx.i1[xx], fx = rx.f[xx];
          const p00 = (a0 + b0) * c, p01 = (a0 + b1) * c, p10 = (a1 + b0) * c, p11 = (a1 + b1) * c;
          const o = (y * w + xx) * c;
          for (let ch = 0; ch < c; ch++) {
            const top = x[p00 + ch] + fx * (x[p01 + ch] - x[p00 + ch]);
            const bottom = x[p10 + ch] + fx * (x[p11 + ch] - x[p10 + ch]);
            out[o + ch] += top + fy * (bottom - top);
          }
        }
      }
    }
    for (let j = 0; j < out.length; j++) out[j] *= norm;
    return out;
  };
}
