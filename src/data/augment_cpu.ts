// CPU reference of the augmentation kernels (kernels/augment.wgsl), in float64: given the same
// parameter rows (augment_params.ts) it produces the views the GPU must reproduce. Each stage is
// exported on its own so tests can check it against torchvision's definitions directly.
//
// Semantics (what "torchvision" means here, since it has two image paths):
//  - Resampling is PIL's (Image.resize after Image.crop, which solo-learn's PIL pipeline runs;
//    torchvision's tensor path with antialias=True computes the same filter): separable, output
//    pixel centres at (o + 0.5)·scale, filter support widened by the scale when downsampling
//    (antialiasing), weights normalised over the window clipped to the crop. Bicubic uses PIL's
//    a = −0.5. Values stay float (PIL rounds to uint8 after each axis) and are clamped to [0, 1],
//    as the uint8 store clamps.
//  - Colour ops follow torchvision's float tensor functional code (adjust_brightness/contrast/
//    saturation/hue, rgb_to_grayscale with 0.2989/0.587/0.114, solarize with >= threshold), in
//    the per-image random order ColorJitter draws. Contrast blends with the mean grey level of
//    the image as it is at that point of the order.
//  - Gaussian blur is torchvision's GaussianBlur: kernel of blurKernelSize(size) taps, weights
//    exp(−t²/2σ²) normalised, reflect padding; applied separably.
import { P, PARAM_STRIDE, blurKernelSize, jitterOrder, type ViewSpec } from './augment_params.js';

export const LUMA: readonly [number, number, number] = [0.2989, 0.587, 0.114];

export type Filter = (x: number) => number;

/** PIL's bicubic (a = −0.5), support 2. */
export function bicubicFilter(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** PIL's bilinear (triangle), support 1. */
export function bilinearFilter(x: number): number {
  x = Math.abs(x);
  return x < 1 ? 1 - x : 0;
}

export function filterOf(interp: ViewSpec['interpolation']): { filter: Filter; support: number } {
  return interp === 'bicubic' ? { filter: bicubicFilter, support: 2 } : { filter: bilinearFilter, support: 1 };
}

/**
 * Normalised resampling weights of one axis, PIL's precompute_coeffs: output o of `size` takes
 * source pixels [lo, hi) of the window around start + (o + 0.5)·scale, clipped to [clipLo, clipHi).
 */
export function axisWeights(start: number, extent: number, size: number, clipLo: number, clipHi: number,
  interp: ViewSpec['interpolation']): { lo: number; w: Float64Array }[] {
  const { filter, support } = filterOf(interp);
  const scale = extent / size;
  const fscale = Math.max(scale, 1);
  const ss = 1 / fscale;
  const sup = support * fscale;
  const out: { lo: number; w: Float64Array }[] = [];
  for (let o = 0; o < size; o++) {
    const center = start + (o + 0.5) * scale;
    const lo = Math.max(Math.floor(center - sup + 0.5), clipLo);
    const hi = Math.min(Math.floor(center + sup + 0.5), clipHi);
    const w = new Float64Array(Math.max(0, hi - lo));
    let sum = 0;
    for (let k = 0; k < w.length; k++) { w[k] = filter((lo + k - center + 0.5) * ss); sum += w[k]; }
    if (sum !== 0) for (let k = 0; k < w.length; k++) w[k] /= sum;
    out.push({ lo, w });
  }
  return out;
}

/**
 * Crop (box of a parameter row), resize to size × size, flip: one image → size·size·3 in [0, 1].
 * img: the image's H·W·C bytes (C = 1 is broadcast to RGB).
 */
export function resampleCrop(img: Uint8Array, H: number, W: number, C: number, row: ArrayLike<number>,
  size: number, interp: ViewSpec['interpolation']): Float64Array {
  const top = row[P.top], left = row[P.left], h = row[P.height], w = row[P.width];
  const clip = row[P.clipToBox] ? [top, top + h, left, left + w] : [0, H, 0, W];
  const wy = axisWeights(top, h, size, clip[0], clip[1], interp);
  const wx = axisWeights(left, w, size, clip[2], clip[3], interp);
  const flip = row[P.flip] !== 0;
  const out = new Float64Array(size * size * 3);
  for (let oy = 0; oy < size; oy++) {
    for (let ox = 0; ox < size; ox++) {
      const { lo: y0, w: ky } = wy[oy];
      const { lo: x0, w: kx } = wx[flip ? size - 1 - ox : ox];
      let r = 0, g = 0, b = 0;
      for (let i = 0; i < ky.length; i++) {
        let rr = 0, gg = 0, bb = 0;
        const rowBase = (y0 + i) * W;
        for (let j = 0; j < kx.length; j++) {
          const p = (rowBase + x0 + j) * C;
          const k = kx[j];
          if (C === 1) { const v = img[p] * k; rr += v; gg += v; bb += v; }
          else { rr += img[p] * k; gg += img[p + 1] * k; bb += img[p + 2] * k; }
        }
        r += ky[i] * rr; g += ky[i] * gg; b += ky[i] * bb;
      }
      const o = (oy * size + ox) * 3;
      out[o] = clamp01(r / 255); out[o + 1] = clamp01(g / 255); out[o + 2] = clamp01(b / 255);
    }
  }
  return out;
}

export function clamp01(x: number): number { return x < 0 ? 0 : x > 1 ? 1 : x; }

export function luma(r: number, g: number, b: number): number { return LUMA[0] * r + LUMA[1] * g + LUMA[2] * b; }

/** torchvision adjust_hue on one pixel (rgb → hsv, shift, hsv → rgb), in place on c. */
export function adjustHue(c: number[] | Float64Array, hueFactor: number): void {
  const r = c[0], g = c[1], b = c[2];
  const maxc = Math.max(r, g, b), minc = Math.min(r, g, b);
  const eqc = maxc === minc;
  const cr = maxc - minc;
  const s = cr / (eqc ? 1 : maxc);
  const div = eqc ? 1 : cr;
  const rc = (maxc - r) / div, gc = (maxc - g) / div, bc = (maxc - b) / div;
  let h: number;
  if (maxc === r) h = bc - gc;
  else if (maxc === g) h = 2 + rc - bc;
  else h = 4 + gc - rc;
  h = fract(h / 6 + 1);
  h = fract(h + hueFactor);
  const v = maxc;
  const i6 = Math.floor(h * 6);
  const f = h * 6 - i6;
  const p = clamp01(v * (1 - s)), q = clamp01(v * (1 - s * f)), t = clamp01(v * (1 - s * (1 - f)));
  switch (((i6 % 6) + 6) % 6) {
    case 0: c[0] = v; c[1] = t; c[2] = p; break;
    case 1: c[0] = q; c[1] = v; c[2] = p; break;
    case 2: c[0] = p; c[1] = v; c[2] = t; break;
    case 3: c[0] = p; c[1] = q; c[2] = v; break;
    case 4: c[0] = t; c[1] = p; c[2] = v; break;
    default: c[0] = v; c[1] = p; c[2] = q; break;
  }
}

function fract(x: number): number { return x - Math.floor(x); }

/** One jitter op (id: 0 brightness, 1 contrast, 2 saturation, 3 hue) on one pixel, in place. */
export function jitterOp(op: number, c: number[] | Float64Array, row: ArrayLike<number>, contrastMean: number): void {
  switch (op) {
    case 0: { const f = row[P.brightness]; for (let k = 0; k < 3; k++) c[k] = clamp01(f * c[k]); break; }
    case 1: { const f = row[P.contrast]; for (let k = 0; k < 3; k++) c[k] = clamp01(f * c[k] + (1 - f) * contrastMean); break; }
    case 2: {
      const f = row[P.saturation], l = luma(c[0], c[1], c[2]);
      for (let k = 0; k < 3; k++) c[k] = clamp01(f * c[k] + (1 - f) * l);
      break;
    }
    default: if (row[P.hue] !== 0) adjustHue(c, row[P.hue]);
  }
}

/**
 * ColorJitter (when the row says it applies) and grayscale, in place on size·size·3 values.
 * Contrast needs the image's mean grey level at its position in the order: one pass over the
 * pixels with the ops before it, then the full chain.
 */
export function colorOps(img: Float64Array, row: ArrayLike<number>): void {
  const n = img.length / 3;
  const c = [0, 0, 0];
  if (row[P.jitter]) {
    const order = jitterOrder(row[P.order]);
    const before = order.slice(0, order.indexOf(1));
    let sum = 0;
    for (let i = 0; i < n; i++) {
      c[0] = img[3 * i]; c[1] = img[3 * i + 1]; c[2] = img[3 * i + 2];
      for (const op of before) jitterOp(op, c, row, 0);
      sum += luma(c[0], c[1], c[2]);
    }
    const mean = sum / n;
    for (let i = 0; i < n; i++) {
      c[0] = img[3 * i]; c[1] = img[3 * i + 1]; c[2] = img[3 * i + 2];
      for (const op of order) jitterOp(op, c, row, mean);
      img[3 * i] = c[0]; img[3 * i + 1] = c[1]; img[3 * i + 2] = c[2];
    }
  }
  if (row[P.gray]) {
    for (let i = 0; i < n; i++) {
      const l = luma(img[3 * i], img[3 * i + 1], img[3 * i + 2]);
      img[3 * i] = l; img[3 * i + 1] = l; img[3 * i + 2] = l;
    }
  }
}

/** torchvision's 1-D Gaussian kernel of k taps (normalised). */
export function gaussianKernel(k: number, sigma: number): Float64Array {
  const half = (k - 1) / 2;
  const w = new Float64Array(k);
  let sum = 0;
  for (let t = 0; t < k; t++) { const x = (t - half) / sigma; w[t] = Math.exp(-0.5 * x * x); sum += w[t]; }
  for (let t = 0; t < k; t++) w[t] /= sum;
  return w;
}

/** Reflect padding index (torch 'reflect': no edge repeat), valid for |overhang| < n. */
export function reflect(i: number, n: number): number {
  if (i < 0) return -i;
  if (i >= n) return 2 * (n - 1) - i;
  return i;
}

/** Separable Gaussian blur of a size × size × 3 image, in place. */
export function gaussianBlur(img: Float64Array, size: number, sigma: number): void {
  const k = blurKernelSize(size);
  const half = (k - 1) / 2;
  if (half >= size) throw new RangeError(`blur kernel ${k} needs images larger than ${half} px, got ${size}`);
  const w = gaussianKernel(k, sigma);
  const tmp = new Float64Array(img.length);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) for (let ch = 0; ch < 3; ch++) {
    let acc = 0;
    for (let t = 0; t < k; t++) acc += w[t] * img[(y * size + reflect(x + t - half, size)) * 3 + ch];
    tmp[(y * size + x) * 3 + ch] = acc;
  }
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) for (let ch = 0; ch < 3; ch++) {
    let acc = 0;
    for (let t = 0; t < k; t++) acc += w[t] * tmp[(reflect(y + t - half, size) * size + x) * 3 + ch];
    img[(y * size + x) * 3 + ch] = acc;
  }
}

/** Solarize (v ≥ 0.5 → 1 − v) when the row says so, then normalise, into out (f32). */
export function finish(img: Float64Array, row: ArrayLike<number>, spec: ViewSpec, out: Float32Array, offset: number): void {
  const sol = row[P.solarize] !== 0;
  for (let i = 0; i < img.length; i++) {
    let v = img[i];
    if (sol && v >= 0.5) v = 1 - v;
    const ch = i % 3;
    out[offset + i] = (v - spec.mean[ch]) / spec.std[ch];
  }
}

/**
 * The whole pipeline on the CPU: images u8 NHWC [N, H, W, C], idx which images, params one row
 * per idx entry → f32 [B, size, size, 3].
 */
export function augmentCpu(images: Uint8Array, shape: readonly number[], idx: ArrayLike<number>, params: Float32Array,
  spec: ViewSpec): Float32Array {
  const [N, H, W, C] = shape;
  const S = spec.size, B = idx.length;
  const out = new Float32Array(B * S * S * 3);
  const plane = H * W * C;
  for (let b = 0; b < B; b++) {
    const n = idx[b];
    if (!(n >= 0 && n < N)) throw new RangeError(`augment: index ${n} (batch position ${b}) outside [0, ${N})`);
    const row = params.subarray(b * PARAM_STRIDE, (b + 1) * PARAM_STRIDE);
    const img = resampleCrop(images.subarray(n * plane, (n + 1) * plane), H, W, C, row, S, spec.interpolation);
    colorOps(img, row);
    if (row[P.sigma] > 0) gaussianBlur(img, S, row[P.sigma]);
    finish(img, row, spec, out, b * S * S * 3);
  }
  return out;
}
