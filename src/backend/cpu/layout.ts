// Data movement: permute, slice/pad, concat, gather/scatterAdd.
import type { Raw } from '../backend.js';
import { numel, stridesOf, type Shape } from '../../runtime/shape.js';
import { alloc, dataOf, type CpuStorage } from './storage.js';

export function permute(x: Raw, perm: number[]): CpuStorage {
  const a = dataOf(x);
  const inStrides = stridesOf(x.shape);
  const outShape = perm.map((p) => x.shape[p]);
  const srcStride = perm.map((p) => inStrides[p]);
  const out = alloc(x.dtype, a.length);
  const o = out.data;
  const r = outShape.length;
  const idx = new Array<number>(r).fill(0);
  let src = 0;
  for (let i = 0; i < a.length; i++) {
    o[i] = a[src];
    for (let d = r - 1; d >= 0; d--) {
      idx[d]++; src += srcStride[d];
      if (idx[d] < outShape[d]) break;
      src -= srcStride[d] * outShape[d]; idx[d] = 0;
    }
  }
  return out;
}

/** Copy the block [begin, begin+size) of `src` (shape srcShape) to `dst` at dstBegin (shape dstShape). */
function copyBlock(src: ArrayLike<number>, srcShape: Shape, srcBegin: number[],
  dst: { [i: number]: number }, dstShape: Shape, dstBegin: number[], size: number[]): void {
  const r = size.length;
  if (numel(size) === 0) return;
  const ss = stridesOf(srcShape), ds = stridesOf(dstShape);
  let s0 = 0, d0 = 0;
  for (let d = 0; d < r; d++) { s0 += srcBegin[d] * ss[d]; d0 += dstBegin[d] * ds[d]; }
  // Innermost dim copied as a run.
  const inner = size[r - 1];
  const idx = new Array<number>(Math.max(r - 1, 0)).fill(0);
  const outer = numel(size.slice(0, r - 1));
  for (let o = 0; o < outer; o++) {
    let s = s0, t = d0;
    for (let d = 0; d < r - 1; d++) { s += idx[d] * ss[d]; t += idx[d] * ds[d]; }
    for (let j = 0; j < inner; j++) dst[t + j] = src[s + j];
    for (let d = r - 2; d >= 0; d--) { if (++idx[d] < size[d]) break; idx[d] = 0; }
  }
}

export function slice(x: Raw, begin: number[], size: number[]): CpuStorage {
  const out = alloc(x.dtype, numel(size));
  copyBlock(dataOf(x), x.shape, begin, out.data, size, size.map(() => 0), size);
  return out;
}

export function pad(x: Raw, begin: number[], outShape: Shape): CpuStorage {
  const out = alloc(x.dtype, numel(outShape));
  copyBlock(dataOf(x), x.shape, x.shape.map(() => 0), out.data, outShape, begin, [...x.shape]);
  return out;
}

export function concat(xs: Raw[], axis: number): CpuStorage {
  const outShape = [...xs[0].shape];
  outShape[axis] = xs.reduce((a, t) => a + t.shape[axis], 0);
  const out = alloc(xs[0].dtype, numel(outShape));
  let off = 0;
  for (const t of xs) {
    const dstBegin = outShape.map((_, i) => (i === axis ? off : 0));
    copyBlock(dataOf(t), t.shape, t.shape.map(() => 0), out.data, outShape, dstBegin, [...t.shape]);
    off += t.shape[axis];
  }
  return out;
}

/** View x as [outer, n, inner] around `axis`. */
function around(shape: Shape, axis: number): [number, number, number] {
  return [numel(shape.slice(0, axis)), shape[axis], numel(shape.slice(axis + 1))];
}

export function gather(x: Raw, axis: number, idx: Raw): CpuStorage {
  const a = dataOf(x), ids = dataOf(idx);
  const [outer, n, inner] = around(x.shape, axis);
  const m = ids.length;
  const out = alloc(x.dtype, outer * m * inner);
  const o = out.data;
  for (let p = 0; p < outer; p++) {
    for (let j = 0; j < m; j++) {
      const k = ids[j];
      if (k < 0 || k >= n) throw new RangeError(`gather: index ${k} out of range [0, ${n}) on axis ${axis}`);
      const s = (p * n + k) * inner, t = (p * m + j) * inner;
      for (let q = 0; q < inner; q++) o[t + q] = a[s + q];
    }
  }
  return out;
}

export function scatterAdd(dy: Raw, axis: number, idx: Raw, outShape: Shape): CpuStorage {
  const g = dataOf(dy), ids = dataOf(idx);
  const [outer, n, inner] = around(outShape, axis);
  const m = ids.length;
  const out = alloc(dy.dtype, numel(outShape));
  const o = out.data;
  for (let p = 0; p < outer; p++) {
    for (let j = 0; j < m; j++) {
      const s = (p * m + j) * inner, t = (p * n + ids[j]) * inner;
      for (let q = 0; q < inner; q++) o[t + q] += g[s + q];
    }
  }
  return out;
}
