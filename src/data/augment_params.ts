// Augmentation recipes (SPEC §6) and the per-image random parameters drawn for them on the host.
// Every random decision is made here, from a seeded Rng, and packed into one Float32Array row
// per image; the kernels (WGSL and the CPU reference) are deterministic functions of those rows.
// That keeps GPU and CPU views identical for the same parameters, makes same-seed runs
// reproducible, and lets tests check the distributions without touching pixels.
import type { Rng } from '../runtime/rng.js';

/** One augmentation pipeline, in torchvision's order: RRC → jitter → gray → blur → solarize → flip → normalise. */
export interface ViewSpec {
  /** Output side in pixels (square). */
  size: number;
  /** RandomResizedCrop area fraction range and aspect-ratio range (w/h). */
  cropScale: [number, number];
  cropRatio: [number, number];
  interpolation: 'bilinear' | 'bicubic';
  flipP: number;
  /** Probability that ColorJitter is applied (RandomApply), then its four strengths. */
  jitterP: number;
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
  grayscaleP: number;
  blurP: number;
  blurSigma: [number, number];
  solarizeP: number;
  /** Per-channel normalisation in [0, 1] units (1-channel values are broadcast to RGB). */
  mean: number[];
  std: number[];
  /**
   * Deterministic evaluation crop instead of RandomResizedCrop: resize the shorter side to
   * size / centerCrop, then centre-crop size × size (torchvision Resize + CenterCrop).
   */
  centerCrop?: number;
}

/** Floats per image in the parameter rows of sampleParams(). */
export const PARAM_STRIDE = 16;

/**
 * Layout of one parameter row (PARAM_STRIDE floats per image):
 *   0..3  crop box in source pixels: top, left, height, width (may be fractional for centre crops)
 *   4     horizontal flip (0/1)
 *   5     colour jitter applied (0/1)
 *   6..9  brightness, contrast, saturation factors and hue shift (identity 1, 1, 1, 0 when not applied)
 *   10    jitter op order: o0 + 4·o1 + 16·o2 + 64·o3, op ids 0 brightness, 1 contrast, 2 saturation, 3 hue
 *   11    grayscale (0/1)
 *   12    Gaussian blur σ in output pixels (0 = no blur)
 *   13    solarize (0/1)
 *   14    resampling window clipped to the crop box (1, RandomResizedCrop: PIL crops, then resizes)
 *         or to the whole source image (0, Resize + CenterCrop: the crop is of the resized image)
 *   15    unused (0)
 */
export const P = {
  top: 0, left: 1, height: 2, width: 3, flip: 4, jitter: 5,
  brightness: 6, contrast: 7, saturation: 8, hue: 9, order: 10,
  gray: 11, sigma: 12, solarize: 13, clipToBox: 14,
} as const;

export const JITTER_OPS = ['brightness', 'contrast', 'saturation', 'hue'] as const;
export const IDENTITY_ORDER = 0 + 4 * 1 + 16 * 2 + 64 * 3;

/** Unpack the op order of a row into four op ids. */
export function jitterOrder(code: number): number[] {
  return [code & 3, (code >> 2) & 3, (code >> 4) & 3, (code >> 6) & 3];
}

/**
 * Blur kernel size for an output size: 10% of the side, made odd (BYOL's 23 px at 224 px, which
 * torchvision.transforms.GaussianBlur(23) then applies with reflect padding).
 */
export function blurKernelSize(size: number): number {
  const k = Math.floor(0.1 * size);
  return Math.max(3, k % 2 === 0 ? k + 1 : k);
}

/** Images up to this side are "small" (CIFAR, Tiny-ImageNet): no Gaussian blur (SPEC §6). */
export const SMALL_IMAGE = 64;

function rgb(v: number[], what: string): number[] {
  if (v.length === 1) return [v[0], v[0], v[0]];
  if (v.length !== 3) throw new RangeError(`${what} must have 1 or 3 values, got ${v.length}`);
  return [...v];
}

function base(size: number, mean: number[], std: number[]): ViewSpec {
  if (!(Number.isInteger(size) && size > 0)) throw new RangeError(`view size must be a positive integer, got ${size}`);
  return {
    size, cropScale: [0.08, 1], cropRatio: [3 / 4, 4 / 3], interpolation: 'bicubic',
    flipP: 0.5, jitterP: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1,
    grayscaleP: 0.2, blurP: 0, blurSigma: [0.1, 2], solarizeP: 0,
    mean: rgb(mean, 'mean'), std: rgb(std, 'std'),
  };
}

/**
 * BYOL's asymmetric pair (SPEC §6): view 1 always blurred, never solarised; view 2 blurred with
 * p = 0.1 and solarised with p = 0.2. cropMin: 0.2 for CO-SSL, 0.08 for the baselines. Small
 * images (≤ 64 px) get no blur at all.
 */
export function byolViews(size: number, cropMin: number, mean: number[], std: number[]): [ViewSpec, ViewSpec] {
  const small = size <= SMALL_IMAGE;
  const v1 = { ...base(size, mean, std), cropScale: [cropMin, 1] as [number, number], blurP: small ? 0 : 1.0, solarizeP: 0 };
  const v2 = { ...base(size, mean, std), cropScale: [cropMin, 1] as [number, number], blurP: small ? 0 : 0.1, solarizeP: 0.2 };
  return [v1, v2];
}

/**
 * A small multi-crop view (SSL-mc baselines, SPEC §3: 96 px, scaled for small images). Colour
 * ops as the global views; blur p = 0.5 and no solarisation (DINO's local-crop recipe), and no
 * blur at all on small crops.
 */
export function multiCropView(size: number, cropScale: [number, number], mean: number[], std: number[]): ViewSpec {
  return { ...base(size, mean, std), cropScale: [...cropScale], blurP: size <= SMALL_IMAGE ? 0 : 0.5 };
}

/**
 * Evaluation view: no randomness. Sizes ≤ 64 px keep the whole image (on same-size data the
 * resample is the identity); larger ones follow the usual Resize(size/0.875) + CenterCrop(size).
 */
export function evalView(size: number, mean: number[], std: number[]): ViewSpec {
  return {
    ...base(size, mean, std), cropScale: [1, 1], cropRatio: [1, 1],
    flipP: 0, jitterP: 0, grayscaleP: 0, blurP: 0, solarizeP: 0,
    centerCrop: size <= SMALL_IMAGE ? 1 : 0.875,
  };
}

/** Linear-probe training view (Appendix A.1): random crop (min 0.08) and flip only. */
export function probeView(size: number, mean: number[], std: number[]): ViewSpec {
  return { ...base(size, mean, std), jitterP: 0, grayscaleP: 0, blurP: 0, solarizeP: 0 };
}

/** Python's round(): halves go to the even neighbour (torchvision's int(round(x))). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * torchvision RandomResizedCrop.get_params: up to 10 tries of (area fraction ~ U(scale),
 * log aspect ratio ~ U(log ratio)); the first box that fits wins, placed uniformly; otherwise a
 * centred crop clamped to the ratio range. Returns [top, left, height, width] in pixels.
 */
export function sampleCropBox(rng: Rng, srcH: number, srcW: number, scale: [number, number], ratio: [number, number]):
  [number, number, number, number] {
  const area = srcH * srcW;
  const logLo = Math.log(ratio[0]), logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= srcW && h > 0 && h <= srcH) {
      const top = rng.int(srcH - h + 1);
      const left = rng.int(srcW - w + 1);
      return [top, left, h, w];
    }
  }
  const inRatio = srcW / srcH;
  let w: number, h: number;
  if (inRatio < Math.min(ratio[0], ratio[1])) { w = srcW; h = roundHalfEven(w / Math.min(ratio[0], ratio[1])); }
  else if (inRatio > Math.max(ratio[0], ratio[1])) { h = srcH; w = roundHalfEven(h * Math.max(ratio[0], ratio[1])); }
  else { w = srcW; h = srcH; }
  return [Math.floor((srcH - h) / 2), Math.floor((srcW - w) / 2), h, w];
}

/**
 * torchvision Resize(round(size / fraction)) on the shorter side, then CenterCrop(size), as a
 * fractional box in source pixels (the resample then clips to the whole image, as PIL's resize
 * of the full image does before the crop).
 */
export function centerCropBox(srcH: number, srcW: number, size: number, fraction: number): [number, number, number, number] {
  const resizeTo = fraction === 1 ? size : Math.floor(size / fraction);
  const short = Math.min(srcH, srcW), long = Math.max(srcH, srcW);
  const newShort = resizeTo, newLong = Math.floor(resizeTo * long / short);
  const rh = srcH <= srcW ? newShort : newLong;
  const rw = srcH <= srcW ? newLong : newShort;
  const top = roundHalfEven((rh - size) / 2), left = roundHalfEven((rw - size) / 2);
  const sy = srcH / rh, sx = srcW / rw;
  return [top * sy, left * sx, size * sy, size * sx];
}

/**
 * Per-image random parameters for n images of srcH × srcW under `spec` (layout: see P).
 * Draw order per image follows the pipeline: crop, jitter (coin, then torchvision's order
 * permutation and factors), grayscale, blur (coin, σ), solarize, flip. Coins are drawn even
 * when p is 0 or 1 so that the stream position depends only on the crop tries.
 */
export function sampleParams(rng: Rng, n: number, srcH: number, srcW: number, spec: ViewSpec): Float32Array {
  const out = new Float32Array(n * PARAM_STRIDE);
  const coin = (p: number) => (rng.next() < p ? 1 : 0);
  for (let i = 0; i < n; i++) {
    const row = out.subarray(i * PARAM_STRIDE, (i + 1) * PARAM_STRIDE);
    if (spec.centerCrop !== undefined) {
      row.set(centerCropBox(srcH, srcW, spec.size, spec.centerCrop), P.top);
      row[P.clipToBox] = 0;
    } else {
      row.set(sampleCropBox(rng, srcH, srcW, spec.cropScale, spec.cropRatio), P.top);
      row[P.clipToBox] = 1;
    }
    row[P.brightness] = 1; row[P.contrast] = 1; row[P.saturation] = 1; row[P.hue] = 0;
    row[P.order] = IDENTITY_ORDER;
    row[P.jitter] = coin(spec.jitterP);
    if (row[P.jitter]) {
      const order = [0, 1, 2, 3];
      rng.shuffle(order);
      row[P.order] = order[0] + 4 * order[1] + 16 * order[2] + 64 * order[3];
      const factor = (s: number) => rng.uniform(Math.max(0, 1 - s), 1 + s);
      row[P.brightness] = factor(spec.brightness);
      row[P.contrast] = factor(spec.contrast);
      row[P.saturation] = factor(spec.saturation);
      row[P.hue] = rng.uniform(-spec.hue, spec.hue);
    }
    row[P.gray] = coin(spec.grayscaleP);
    const blur = coin(spec.blurP);
    const sigma = rng.uniform(spec.blurSigma[0], spec.blurSigma[1]);
    row[P.sigma] = blur ? Math.max(sigma, 1e-6) : 0;
    row[P.solarize] = coin(spec.solarizeP);
    row[P.flip] = coin(spec.flipP);
  }
  return out;
}

/** True when any image of a parameter block needs the blur passes. */
export function anyBlur(params: Float32Array): boolean {
  for (let i = P.sigma; i < params.length; i += PARAM_STRIDE) if (params[i] > 0) return true;
  return false;
}
