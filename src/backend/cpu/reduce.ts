// Reductions over any set of axes, accumulated in double precision.
import type { Raw, ReduceOp } from '../backend.js';
import { numel, stridesOf } from '../../runtime/shape.js';
import { alloc, dataOf, type CpuStorage } from './storage.js';

export function reduce(op: ReduceOp, x: Raw, axes: number[]): CpuStorage {
  const a = dataOf(x);
  const shape = x.shape;
  const outShape = shape.filter((_, i) => !axes.includes(i));
  const outStridesKept = stridesOf(outShape);
  // Output stride per input dim (0 for reduced dims).
  const os: number[] = [];
  let k = 0;
  for (let d = 0; d < shape.length; d++) os.push(axes.includes(d) ? 0 : outStridesKept[k++]);
  const nOut = numel(outShape);
  const acc = new Float64Array(nOut).fill(op === 'max' ? -Infinity : 0);
  const r = shape.length;
  const idx = new Array<number>(r).fill(0);
  let io = 0;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (op === 'max') { if (v > acc[io] || Number.isNaN(v)) acc[io] = v; } else acc[io] += v;
    for (let d = r - 1; d >= 0; d--) {
      idx[d]++; io += os[d];
      if (idx[d] < shape[d]) break;
      io -= os[d] * shape[d]; idx[d] = 0;
    }
  }
  if (op === 'mean') {
    const n = a.length / Math.max(nOut, 1);
    for (let i = 0; i < nOut; i++) acc[i] /= n;
  }
  const out = alloc(x.dtype, nOut);
  out.data.set(acc);
  return out;
}
