// CO-SSL's local cosine loss, fused: one pass over positions per sample.
// With â = a/max(‖a‖, ε): cos(a, b) = â·b̂ and ∂cos/∂a = (b̂ − cos·â)/max(‖a‖, ε).
import type { Raw } from '../backend.js';
import { alloc, dataOf, type CpuStorage } from './storage.js';

const EPS = 1e-12;

function norm(a: ArrayLike<number>, off: number, D: number): number {
  let s = 0;
  for (let d = 0; d < D; d++) s += a[off + d] * a[off + d];
  return Math.max(Math.sqrt(s), EPS);
}

function dot(a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, D: number): number {
  let s = 0;
  for (let d = 0; d < D; d++) s += a[ao + d] * b[bo + d];
  return s;
}

function dims(pl: Raw): [number, number, number] { return [pl.shape[0], pl.shape[1], pl.shape[2]]; }

export function localCosine(pl: Raw, zg: Raw, p: Raw, zl: Raw): CpuStorage {
  const [B, P, D] = dims(pl);
  const PL = dataOf(pl), ZG = dataOf(zg), PG = dataOf(p), ZL = dataOf(zl);
  const out = alloc(pl.dtype, B);
  for (let b = 0; b < B; b++) {
    const nzg = norm(ZG, b * D, D), np = norm(PG, b * D, D);
    let s = 0;
    for (let i = 0; i < P; i++) {
      const o = (b * P + i) * D;
      s += dot(PL, o, ZG, b * D, D) / (norm(PL, o, D) * nzg);
      s += dot(PG, b * D, ZL, o, D) / (np * norm(ZL, o, D));
    }
    out.data[b] = -s / P;
  }
  return out;
}

export function localCosineBackward(pl: Raw, zg: Raw, p: Raw, zl: Raw, dLoss: Raw): { dpl: CpuStorage; dp: CpuStorage } {
  const [B, P, D] = dims(pl);
  const PL = dataOf(pl), ZG = dataOf(zg), PG = dataOf(p), ZL = dataOf(zl), G = dataOf(dLoss);
  const dpl = alloc(pl.dtype, B * P * D), dp = alloc(pl.dtype, B * D);
  const acc = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    const scale = -G[b] / P;
    const go = b * D;
    const nzg = norm(ZG, go, D), np = norm(PG, go, D);
    acc.fill(0);
    for (let i = 0; i < P; i++) {
      const o = (b * P + i) * D;
      // term 1: cos(pl_i, zg) → gradient on pl_i
      const npl = norm(PL, o, D);
      const c1 = dot(PL, o, ZG, go, D) / (npl * nzg);
      for (let d = 0; d < D; d++) dpl.data[o + d] = scale * (ZG[go + d] / nzg - c1 * PL[o + d] / npl) / npl;
      // term 2: cos(p, zl_i) → gradient on p, summed over positions
      const nzl = norm(ZL, o, D);
      const c2 = dot(PG, go, ZL, o, D) / (np * nzl);
      for (let d = 0; d < D; d++) acc[d] += (ZL[o + d] / nzl - c2 * PG[go + d] / np) / np;
    }
    for (let d = 0; d < D; d++) dp.data[go + d] = scale * acc[d];
  }
  return { dpl, dp };
}
