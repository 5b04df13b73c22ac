// Matrix products: matmul (2-D or batched 3-D, with transposed-operand variants) and linear.
import { Tensor } from '../tensor.js';
import { shapeError } from '../runtime/errors.js';
import { gradSink, needsGrad, record, save } from '../autograd/tape.js';
import { sameBackend, wrap } from './util.js';
import { sum } from './reduce.js';

export interface MatmulOptions { transA?: boolean; transB?: boolean }

/** op(A)·op(B): [M,K]·[K,N] → [M,N], or batched [Bt,M,K]·[Bt,K,N] → [Bt,M,N]. */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const tA = !!opts.transA, tB = !!opts.transB;
  const be = sameBackend('matmul', a, b);
  if (a.rank !== b.rank || (a.rank !== 2 && a.rank !== 3)) {
    throw shapeError('matmul', 'operands must both be 2-D or both 3-D', { a: a.shape, b: b.shape });
  }
  const r = a.rank;
  if (r === 3 && a.shape[0] !== b.shape[0]) throw shapeError('matmul', 'batch sizes differ', { a: a.shape, b: b.shape });
  const M = tA ? a.shape[r - 1] : a.shape[r - 2];
  const Ka = tA ? a.shape[r - 2] : a.shape[r - 1];
  const Kb = tB ? b.shape[r - 1] : b.shape[r - 2];
  const N = tB ? b.shape[r - 2] : b.shape[r - 1];
  if (Ka !== Kb) {
    throw shapeError('matmul', `inner dimensions differ (${Ka} vs ${Kb}${tA || tB ? `, transA=${tA}, transB=${tB}` : ''})`, { a: a.shape, b: b.shape });
  }
  const shape = r === 3 ? [a.shape[0], M, N] : [M, N];
  const y = wrap(be, be.matmul(a, b, tA, tB), shape, a.dtype);
  if (needsGrad(a, b)) {
    const sa = save(a), sb = save(b);
    record(y, 'matmul', [a, b], (g) => {
      // C = op(A)op(B): dA = g·op(B)ᵀ (transposed back if A was), dB likewise.
      const ga = !a.requiresGrad ? null
        : tA ? matmul(sb, g, { transA: tB, transB: true }) : matmul(g, sb, { transB: !tB });
      const gb = !b.requiresGrad ? null
        : tB ? matmul(g, sa, { transA: true, transB: tA }) : matmul(sa, g, { transA: !tA });
      return [ga, gb];
    }, [sa, sb]);
  }
  return y;
}

/** y = x·Wᵀ + b with torch's Linear weight layout W [out, in]. x: [N, in]. */
export function linear(x: Tensor, w: Tensor, bias: Tensor | null = null): Tensor {
  if (x.rank !== 2 || w.rank !== 2 || x.shape[1] !== w.shape[1]) {
    throw shapeError('linear', 'expected x [N, in] and weight [out, in]', { x: x.shape, weight: w.shape });
  }
  if (!bias) return matmul(x, w, { transB: true });
  if (bias.rank !== 1 || bias.shape[0] !== w.shape[0]) throw shapeError('linear', 'bias must be [out]', { bias: bias.shape, weight: w.shape });
  const be = sameBackend('linear', x, w, bias);
  // The bias rides in the GEMM's epilogue: one pass, no [N, out] intermediate.
  const y = wrap(be, be.matmul(x, w, false, true, bias), [x.shape[0], w.shape[0]], x.dtype);
  if (needsGrad(x, w, bias)) {
    const sx = save(x), sw = save(w);
    record(y, 'linear', [x, w, bias], (g) => [
      x.requiresGrad ? matmul(g, sw) : null,
      w.requiresGrad ? wrap(be, be.matmul(g, sx, true, false, null, gradSink(w)), w.shape, w.dtype) : null,
      bias.requiresGrad ? sum(g, 0) : null,
    ], [sx, sw]);
  }
  return y;
}

