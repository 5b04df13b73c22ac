// Direct convolution over NHWC maps. Weights (OIHW) are re-laid as [kh][kw][Cin][Cout] so the
// innermost loops run over contiguous channels. Accumulation is in double precision.
import type { Conv2dParams, InputNorm, Raw, Storage } from '../backend.js';
import { convOutSize, numel, sameShape, type Shape } from '../../runtime/shape.js';
import { BackendError } from '../../runtime/errors.js';
import { alloc, allocInto, dataOf, type CpuStorage } from './storage.js';
import { normalize } from './norm.js';

/** OIHW → HWIO (Float64Array). */
function toHWIO(w: ArrayLike<number>, Co: number, Ci: number, kh: number, kw: number): Float64Array {
  const t = new Float64Array(Co * Ci * kh * kw);
  for (let o = 0; o < Co; o++) for (let c = 0; c < Ci; c++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
    t[((i * kw + j) * Ci + c) * Co + o] = w[((o * Ci + c) * kh + i) * kw + j];
  }
  return t;
}

interface Geometry { N: number; H: number; W: number; C: number; Co: number; kh: number; kw: number; Ho: number; Wo: number; sh: number; sw: number; ph: number; pw: number }

function geometry(xShape: Shape, wShape: Shape, p: Conv2dParams): Geometry {
  const [N, H, W, C] = xShape;
  const [Co, , kh, kw] = wShape;
  const [sh, sw] = p.stride, [ph, pw] = p.pad;
  return { N, H, W, C, Co, kh, kw, sh, sw, ph, pw, Ho: convOutSize(H, kh, sh, ph), Wo: convOutSize(W, kw, sw, pw) };
}

/**
 * The taps of output pixel (ho, wo) that land inside the input, in order (kernel rows i, then
 * columns j): tap t's input pixel offset within its image (×C) goes to xo[t], its weight offset
 * (×C·Co) to wOff[t]; returns how many. (Offsets within one image fit the Int32Arrays whatever
 * the batch; the caller adds the image's.) Row i is inside when 0 ≤ ho·sh − ph + i < H (columns alike). Each op calls it
 * once per pixel and loops over the taps itself: the previous form, a callback per (pixel, tap)
 * shared by the three ops, was not inlined by V8, and those calls took a third of the
 * convolutions' time.
 */
function pixelTaps(g: Geometry, ho: number, wo: number, xo: Int32Array, wOff: Int32Array): number {
  const { H, W, C, Co, kh, kw, sh, sw, ph, pw } = g;
  const i0 = Math.max(0, ph - ho * sh), i1 = Math.min(kh, H + ph - ho * sh);
  const j0 = Math.max(0, pw - wo * sw), j1 = Math.min(kw, W + pw - wo * sw);
  let t = 0;
  for (let i = i0; i < i1; i++) for (let j = j0; j < j1; j++, t++) {
    xo[t] = ((ho * sh - ph + i) * W + wo * sw - pw + j) * C;
    wOff[t] = (i * kw + j) * C * Co;
  }
  return t;
}

/** x batch-normalised as `n` says (the reference materialises it), or x itself. */
function normalizedInput(x: Raw, n: InputNorm | null | undefined): Raw {
  if (!n) return x;
  const C = x.shape[x.shape.length - 1];
  const y = normalize({ storage: x.storage, shape: [numel(x.shape) / C, C], dtype: x.dtype }, n.mean, n.invstd, n.gamma, n.beta, { relu: n.relu });
  return { storage: y, shape: x.shape, dtype: x.dtype };
}

export function conv2d(x0: Raw, w: Raw, bias: Raw | null, p: Conv2dParams, _batchNormGroups = 0, inputNorm: InputNorm | null = null): CpuStorage {
  const x = normalizedInput(x0, inputNorm);
  const g = geometry(x.shape, w.shape, p);
  const X = dataOf(x), Wt = toHWIO(dataOf(w), g.Co, g.C, g.kh, g.kw);
  const acc = new Float64Array(g.N * g.Ho * g.Wo * g.Co);
  const { C, Co } = g;
  const xs = new Int32Array(g.kh * g.kw), ws = new Int32Array(g.kh * g.kw);
  for (let n = 0, op = 0; n < g.N; n++) for (let ho = 0, image = n * g.H * g.W * C; ho < g.Ho; ho++) for (let wo = 0; wo < g.Wo; wo++, op++) {
    const taps = pixelTaps(g, ho, wo, xs, ws), yo = op * Co;
    for (let t = 0; t < taps; t++) {
      const xo = image + xs[t], to = ws[t];
      for (let c = 0; c < C; c++) {
        const xv = X[xo + c];
        if (xv === 0) continue;
        const wr = to + c * Co;
        for (let o = 0; o < Co; o++) acc[yo + o] += xv * Wt[wr + o];
      }
    }
  }
  if (bias) {
    const B = dataOf(bias);
    for (let i = 0; i < acc.length; i++) acc[i] += B[i % Co];
  }
  const out = alloc(x.dtype, acc.length);
  out.data.set(acc);
  return out;
}

export function conv2dBackwardData(dy: Raw, w: Raw, xShape: Shape, p: Conv2dParams, accumulate?: Raw | null): CpuStorage {
  const g = geometry(xShape, w.shape, p);
  const G = dataOf(dy), Wt = toHWIO(dataOf(w), g.Co, g.C, g.kh, g.kw);
  if (accumulate && !sameShape(accumulate.shape, xShape)) {
    throw new BackendError(`conv2dBackwardData: accumulate has shape [${accumulate.shape}], x has [${xShape}]`);
  }
  const acc = accumulate ? Float64Array.from(dataOf(accumulate)) : new Float64Array(numel(xShape));
  const { C, Co } = g;
  const xs = new Int32Array(g.kh * g.kw), ws = new Int32Array(g.kh * g.kw);
  for (let n = 0, op = 0; n < g.N; n++) for (let ho = 0, image = n * g.H * g.W * C; ho < g.Ho; ho++) for (let wo = 0; wo < g.Wo; wo++, op++) {
    const taps = pixelTaps(g, ho, wo, xs, ws), go = op * Co;
    for (let t = 0; t < taps; t++) {
      const xo = image + xs[t], to = ws[t];
      for (let c = 0; c < C; c++) {
        const wr = to + c * Co;
        let s = 0;
        for (let o = 0; o < Co; o++) s += G[go + o] * Wt[wr + o];
        acc[xo + c] += s;
      }
    }
  }
  const out = alloc(dy.dtype, acc.length);
  out.data.set(acc);
  return out;
}

export function conv2dBackwardWeight(x0: Raw, dy: Raw, wShape: Shape, p: Conv2dParams, into?: Storage | null, inputNorm: InputNorm | null = null): CpuStorage {
  const x = normalizedInput(x0, inputNorm);
  const g = geometry(x.shape, wShape, p);
  const X = dataOf(x), G = dataOf(dy);
  const { C, Co, kh, kw } = g;
  const accT = new Float64Array(kh * kw * C * Co); // HWIO
  const xs = new Int32Array(g.kh * g.kw), ws = new Int32Array(g.kh * g.kw);
  for (let n = 0, op = 0; n < g.N; n++) for (let ho = 0, image = n * g.H * g.W * C; ho < g.Ho; ho++) for (let wo = 0; wo < g.Wo; wo++, op++) {
    const taps = pixelTaps(g, ho, wo, xs, ws), go = op * Co;
    for (let t = 0; t < taps; t++) {
      const xo = image + xs[t], to = ws[t];
      for (let c = 0; c < C; c++) {
        const xv = X[xo + c];
        if (xv === 0) continue;
        const wr = to + c * Co;
        for (let o = 0; o < Co; o++) accT[wr + o] += xv * G[go + o];
      }
    }
  }
  const out = allocInto(x.dtype, accT.length, into);
  const o = out.data;
  for (let oc = 0; oc < Co; oc++) for (let c = 0; c < C; c++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
    o[((oc * C + c) * kh + i) * kw + j] = accT[((i * kw + j) * C + c) * Co + oc];
  }
  return out;
}
