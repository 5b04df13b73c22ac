// Elementwise primitives with NumPy broadcasting.
import type { BinaryOp, Raw, ScalarOp, UnaryGradOp, UnaryOp } from '../backend.js';
import { broadcastStrides, numel, type Shape } from '../../runtime/shape.js';
import { alloc, dataOf, type CpuStorage } from './storage.js';

/** erf to ~1e-15 (W. J. Cody's rational approximations are overkill; this series/continued fraction is enough for f64 checks). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Maclaurin series: converges fast for |x| < 2.5
    let term = ax, sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 80; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Continued fraction for erfc at larger |x|
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

const unaryFns: Record<UnaryOp, (v: number) => number> = {
  neg: (v) => -v,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (v) => 1 / Math.sqrt(v),
  abs: Math.abs,
  square: (v) => v * v,
  reciprocal: (v) => 1 / v,
  relu: (v) => (v > 0 ? v : 0),
  gelu: (v) => 0.5 * v * (1 + erf(v * SQRT1_2)),
  sigmoid: (v) => 1 / (1 + Math.exp(-v)),
  tanh: Math.tanh,
  sign: (v) => (v > 0 ? 1 : v < 0 ? -1 : 0),
};

const gradFns: Record<UnaryGradOp, (x: number, dy: number) => number> = {
  relu: (x, dy) => (x > 0 ? dy : 0),
  gelu: (x, dy) => dy * (0.5 * (1 + erf(x * SQRT1_2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x)),
  sigmoid: (x, dy) => { const s = 1 / (1 + Math.exp(-x)); return dy * s * (1 - s); },
  tanh: (x, dy) => { const t = Math.tanh(x); return dy * (1 - t * t); },
};

const binaryFns: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  max: (a, b) => (a >= b ? a : b),
  min: (a, b) => (a <= b ? a : b),
  gt: (a, b) => (a > b ? 1 : 0),
  eq: (a, b) => (a === b ? 1 : 0),
};

const scalarFns: Record<ScalarOp, (x: number, s: number) => number> = {
  add: (x, s) => x + s,
  mul: (x, s) => x * s,
  rsub: (x, s) => s - x,
  rdiv: (x, s) => s / x,
  pow: (x, s) => Math.pow(x, s),
  max: (x, s) => (x >= s ? x : s),
  min: (x, s) => (x <= s ? x : s),
};

export function unary(op: UnaryOp, x: Raw): CpuStorage {
  const a = dataOf(x), f = unaryFns[op];
  const out = alloc(x.dtype, a.length);
  const o = out.data;
  for (let i = 0; i < a.length; i++) o[i] = f(a[i]);
  return out;
}

export function unaryGrad(op: UnaryGradOp, x: Raw, dy: Raw): CpuStorage {
  const a = dataOf(x), g = dataOf(dy), f = gradFns[op];
  const out = alloc(x.dtype, a.length);
  const o = out.data;
  for (let i = 0; i < a.length; i++) o[i] = f(a[i], g[i]);
  return out;
}

export function scalar(op: ScalarOp, x: Raw, s: number): CpuStorage {
  const a = dataOf(x), f = scalarFns[op];
  const out = alloc(x.dtype, a.length);
  const o = out.data;
  for (let i = 0; i < a.length; i++) o[i] = f(a[i], s);
  return out;
}

export function binary(op: BinaryOp, x: Raw, y: Raw, outShape: Shape): CpuStorage {
  const a = dataOf(x), b = dataOf(y), f = binaryFns[op];
  const n = numel(outShape);
  const out = alloc(x.dtype, n);
  const o = out.data;
  if (a.length === n && b.length === n) {
    for (let i = 0; i < n; i++) o[i] = f(a[i], b[i]);
    return out;
  }
  // Walk the output with an odometer over broadcast strides.
  const r = outShape.length;
  const sa = broadcastStrides(x.shape, outShape), sb = broadcastStrides(y.shape, outShape);
  const idx = new Array<number>(r).fill(0);
  let ia = 0, ib = 0;
  for (let i = 0; i < n; i++) {
    o[i] = f(a[ia], b[ib]);
    for (let d = r - 1; d >= 0; d--) {
      idx[d]++; ia += sa[d]; ib += sb[d];
      if (idx[d] < outShape[d]) break;
      ia -= sa[d] * outShape[d]; ib -= sb[d] * outShape[d]; idx[d] = 0;
    }
  }
  return out;
}
