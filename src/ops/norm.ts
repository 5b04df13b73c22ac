// Batch normalisation (channels last, so 1d [N, C] and 2d [N, H, W, C] share one path) and
// L2 normalisation.
import { Tensor } from '../tensor.js';
import { shapeError } from '../runtime/errors.js';
import { gradSink, needsGrad, noGrad, record, save } from '../autograd/tape.js';
import { wrap } from './util.js';
import { clampMin, div, mul, mulScalar, sqrt, sub } from './elementwise.js';
import { sum } from './reduce.js';

export interface BatchNormOptions {
  gamma?: Tensor | null;
  beta?: Tensor | null;
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  /** i32 scalar incremented with each training-mode update of the running statistics. */
  numBatchesTracked?: Tensor | null;
  training: boolean;
  momentum?: number;
  eps?: number;
  /** Fused epilogue: y = bn(x) + residual (x's shape), e.g. a residual block's shortcut. */
  residual?: Tensor | null;
  /** Fused epilogue: ReLU after the affine map (and the residual add). */
  relu?: boolean;
  /**
   * Training mode: normalise G equal groups of the batch (first axis) with statistics of their
   * own, exactly as G separate calls on the groups would (running statistics updated once per
   * group, in order). Several augmented views then run through a network as one batch.
   */
  groups?: number;
}

/**
 * Batch norm over every axis but the last. Training mode normalises with batch statistics and,
 * when running buffers are given, updates them in place (PyTorch's rule: unbiased variance,
 * new = (1 − momentum)·old + momentum·batch). Eval mode uses the running statistics and is
 * differentiable in x (adversarial attacks need input gradients through eval-mode nets).
 * `residual` and `relu` fuse the end of a residual block, relu(bn(x) + shortcut), into the
 * normalisation pass (training mode; eval mode composes the same ops).
 */
export function batchNorm(x: Tensor, o: BatchNormOptions): Tensor {
  const C = x.shape[x.rank - 1];
  const eps = o.eps ?? 1e-5;
  checkBatchNorm('batchNorm', x, o);
  const residual = o.residual ?? null;
  if (residual && (residual.rank !== x.rank || residual.shape.some((d, i) => d !== x.shape[i]))) {
    throw shapeError('batchNorm', 'the residual must have the input\'s shape', { input: x.shape, residual: residual.shape });
  }
  if (!o.training) return batchNormEval(x, o, C, eps, residual);
  const be = x.backend;
  const { x2, mean, invstd, M } = trainingStatistics('batchNorm', x, o);
  const y = wrap(be, be.normalize(x2, mean, invstd, o.gamma ?? null, o.beta ?? null, { residual, relu: o.relu }), x.shape, x.dtype);
  const gamma = o.gamma ?? null, beta = o.beta ?? null;
  if (needsGrad(x, gamma, beta, residual)) {
    // A fused ReLU masks the upstream gradient where its output is 0. Without a residual the
    // mask is remade from x, which backward keeps anyway, and beta: the output is not kept for
    // it, so where its consumer does not keep it either (the stem's map: max pooling keeps only
    // its argmax) it is freed once consumed. After a residual add the output itself is kept.
    const maskFromX = !!o.relu && !residual;
    const sx = save(x2), sm = save(mean), si = save(invstd), sg = gamma ? save(gamma) : null;
    const sy = o.relu && !maskFromX ? save(y) : null, sb = maskFromX && beta ? save(beta) : null;
    record(y, o.relu ? (residual ? 'batchNorm+add+relu' : 'batchNorm+relu') : residual ? 'batchNorm+add' : 'batchNorm', bnInputs(x, gamma, beta, residual), (g) => {
      // A fused ReLU's mask is applied inside the backward's reduction pass, which also hands
      // back the masked gradient (the residual's: d(bn + residual)/d(residual) = identity).
      const g2 = g.alias([M, C]), y2 = sy ? sy.alias([M, C]) : null;
      const r = be.batchNormBackward(sx, g2, sm, si, sg, { dgamma: gradSink(gamma), dbeta: gradSink(beta) }, y2, maskFromX ? { beta: sb } : null);
      g2.dispose(); y2?.dispose();
      const gm = r.dyMasked ? wrap(be, r.dyMasked, x.shape, x.dtype) : g;
      const dx = wrap(be, r.dx, x.shape, x.dtype);
      const dg = wrap(be, r.dgamma, [C], x.dtype), db = wrap(be, r.dbeta, [C], x.dtype);
      const out: (Tensor | null)[] = [dx];
      if (gamma) out.push(dg); else dg.dispose();
      if (beta) out.push(db); else db.dispose();
      if (residual) out.push(gm); // d(bn + residual)/d(residual) = identity
      return out;
    }, [sx, sm, si, ...(sg ? [sg] : []), ...(sy ? [sy] : []), ...(sb ? [sb] : [])]);
  }
  x2.dispose();
  mean.dispose(); invstd.dispose();
  return y;
}

/** Shape checks shared by batchNorm and batchNormConv2d. */
export function checkBatchNorm(op: string, x: Tensor, o: BatchNormOptions): void {
  const C = x.shape[x.rank - 1];
  for (const [k, t] of [['gamma', o.gamma], ['beta', o.beta], ['runningMean', o.runningMean], ['runningVar', o.runningVar]] as const) {
    if (t && (t.rank !== 1 || t.shape[0] !== C)) throw shapeError(op, `${k} must be [${C}] for ${C} channels (last axis)`, { input: x.shape, [k]: t.shape });
  }
  if (x.rank < 2) throw shapeError(op, 'input must be [N, C] or [N, H, W, C]', { input: x.shape });
}

/**
 * Training mode's batch statistics of x viewed as [M, C] (mean and invstd [C], or [G, C] for G
 * groups), updating the running statistics in place when given. The caller disposes x2, mean
 * and invstd.
 */
export function trainingStatistics(op: string, x: Tensor, o: BatchNormOptions): { x2: Tensor; mean: Tensor; invstd: Tensor; M: number; C: number } {
  const C = x.shape[x.rank - 1];
  const M = x.size / C;
  const G = o.groups ?? 1;
  if (!Number.isInteger(G) || G < 1 || x.shape[0] % G !== 0) {
    throw shapeError(op, `groups must be a positive integer dividing the batch (${G} given)`, { input: x.shape });
  }
  if (M / G < 2) throw shapeError(op, `training mode needs more than one value per channel${G > 1 ? ` in each of the ${G} groups` : ''}`, { input: x.shape });
  const be = x.backend;
  const x2 = x.alias([M, C]);
  const running = o.runningMean && o.runningVar
    ? { mean: o.runningMean, variance: o.runningVar, count: o.numBatchesTracked ?? null, momentum: o.momentum ?? 0.1, n: M / G }
    : null;
  const stats = be.batchStatistics(x2, o.eps ?? 1e-5, running, G);
  const statShape = G > 1 ? [G, C] : [C];
  return { x2, mean: wrap(be, stats.mean, statShape, x.dtype), invstd: wrap(be, stats.invstd, statShape, x.dtype), M, C };
}

/** The differentiable inputs of a batch norm, in the order its backward returns gradients. */
export function bnInputs(x: Tensor, gamma: Tensor | null, beta: Tensor | null, residual: Tensor | null): Tensor[] {
  return [x, ...(gamma ? [gamma] : []), ...(beta ? [beta] : []), ...(residual ? [residual] : [])];
}

/** The upstream gradient through a fused ReLU (masked where the saved output y is 0); g itself without one. */
function reluMasked(g: Tensor, y: Tensor | null): Tensor {
  return y ? wrap(g.backend, g.backend.unaryGrad('relu', y, g), g.shape, g.dtype) : g;
}

/**
 * Eval mode: the same fused apply pass with the running statistics. Differentiable in x, gamma,
 * beta and the residual (dx = g·gamma·invstd, the statistics being constants).
 */
function batchNormEval(x: Tensor, o: BatchNormOptions, C: number, eps: number, residual: Tensor | null): Tensor {
  if (!o.runningMean || !o.runningVar) throw new Error('batchNorm: eval mode needs running statistics');
  const be = x.backend, M = x.size / C;
  const gamma = o.gamma ?? null, beta = o.beta ?? null;
  // batchNormFinalize without running statistics is exactly 1/√(var + eps): one dispatch.
  const invstd = wrap(be, be.batchNormFinalize(o.runningMean, o.runningVar, eps, null), [C], x.dtype);
  const x2 = x.alias([M, C]);
  const y = wrap(be, be.normalize(x2, o.runningMean, invstd, gamma, beta, { residual, relu: o.relu }), x.shape, x.dtype);
  x2.dispose();
  if (needsGrad(x, gamma, beta, residual)) {
    // The running mean is updated in place by later training steps: keep this step's value.
    const meanNow = noGrad(() => mulScalar(o.runningMean!, 1));
    const sx = save(x), si = save(invstd), sm = save(meanNow);
    meanNow.dispose();
    const sg = gamma ? save(gamma) : null, sy = o.relu ? save(y) : null;
    const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
    record(y, 'batchNormEval', bnInputs(x, gamma, beta, residual), (g) => {
      const gm = reluMasked(g, sy);
      const out: (Tensor | null)[] = [mul(gm, sg ? mul(sg, si) : si)];
      if (gamma) out.push(sum(mul(gm, mul(sub(sx, sm), si)), axes));
      if (beta) out.push(sum(gm, axes));
      if (residual) out.push(gm);
      return out;
    }, [sx, si, sm, ...(sg ? [sg] : []), ...(sy ? [sy] : [])]);
  }
  invstd.dispose();
  return y;
}

/** x / max(‖x‖₂, eps) along `axis` (default last), as torch.nn.functional.normalize. */
export function l2Normalize(x: Tensor, axis = -1, eps = 1e-12): Tensor {
  const n = sqrt(sum(mul(x, x), axis, true));
  return div(x, clampMin(n, eps));
}

