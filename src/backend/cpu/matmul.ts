// Matrix products. Operands are first brought to A [M,K], B [K,N] row-major, then an i-k-j
// loop with a double-precision row accumulator (the reference must be accurate, not fast).
import type { Raw, Storage } from '../backend.js';
import type { TypedArray } from '../../runtime/dtype.js';
import { allocInto, dataOf, type CpuStorage } from './storage.js';

function transposed(a: ArrayLike<number>, off: number, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[off + r * cols + c];
  return t;
}

export function matmul(a: Raw, b: Raw, transA: boolean, transB: boolean, bias: Raw | null = null, into?: Storage | null): CpuStorage {
  const r = a.shape.length;
  const batch = r === 3 ? a.shape[0] : 1;
  const M = transA ? a.shape[r - 1] : a.shape[r - 2];
  const K = transA ? a.shape[r - 2] : a.shape[r - 1];
  const N = transB ? b.shape[r - 2] : b.shape[r - 1];
  const A = dataOf(a), B = dataOf(b);
  const out = allocInto(a.dtype, batch * M * N, into);
  const C: TypedArray = out.data;
  const row = new Float64Array(N);
  const bv = bias ? dataOf(bias) : null;
  for (let p = 0; p < batch; p++) {
    const aOff = p * M * K, bOff = p * K * N;
    // A as [M,K] starting at ao, B as [K,N] starting at bo
    const Am: ArrayLike<number> = transA ? transposed(A, aOff, K, M) : A;
    const ao = transA ? 0 : aOff;
    const Bm: ArrayLike<number> = transB ? transposed(B, bOff, N, K) : B;
    const bo = transB ? 0 : bOff;
    for (let i = 0; i < M; i++) {
      if (bv) for (let j = 0; j < N; j++) row[j] = bv[j];
      else row.fill(0);
      for (let k = 0; k < K; k++) {
        const av = Am[ao + i * K + k];
        if (av === 0) continue;
        const bk = bo + k * N;
        for (let j = 0; j < N; j++) row[j] += av * Bm[bk + j];
      }
      C.set(row, p * M * N + i * N);
    }
  }
  return out;
}
