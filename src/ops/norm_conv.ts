// A training-mode batch norm (then ReLU) feeding a convolution, as one op: conv(relu(bn(x))).
// Inside a residual block (bn1 → ReLU → conv2, bn2 → ReLU → conv3) the normalised map has no
// other consumer, yet the two-op form keeps it alive from the forward to the backward: the
// convolution saves it for its weight gradient and the fused ReLU for its mask. This op saves
// only x and the batch statistics and remakes the map where backward needs it, so a bottleneck
// keeps four of its six maps (PyTorch keeps all six).
import { Tensor } from '../tensor.js';
import { shapeError } from '../runtime/errors.js';
import type { InputNorm } from '../backend/backend.js';
import { gradSink, needsGrad, record, save } from '../autograd/tape.js';
import { wrap } from './util.js';
import { sum } from './reduce.js';
import { batchNorm, bnInputs, checkBatchNorm, trainingStatistics, type BatchNormOptions } from './norm.js';
import { checkConv2d, conv2d, type Conv2dOptions } from './conv.js';

/**
 * The two ops composed, conv2d(batchNorm(x, bn), w, bias, conv), the normalised map let go once
 * convolved (the tape's aliases keep what backward needs): eval mode, and COENGINE_FOLD_BN=0.
 */
export function batchNormThenConv2d(x: Tensor, bn: BatchNormOptions, w: Tensor, bias: Tensor | null = null, conv: Conv2dOptions = {}): Tensor {
  const y = batchNorm(x, bn);
  const z = conv2d(y, w, bias, conv);
  y.dispose();
  return z;
}

/**
 * conv2d(batchNorm(x, bn), w, bias, conv): the same values and gradients as the two ops (and
 * the same running-statistics update), with the normalised map never saved for backward.
 * Training mode passes the map to the backend as conv2d's InputNorm (the backend may apply it
 * in its operand reads instead of storing it); backward takes the convolution's weight gradient
 * through the same InputNorm and the ReLU's mask from x (batchNormBackward's reluFromInput).
 * Eval mode composes the two ops. `bn.residual` has no place here (the map must be per-channel).
 */
export function batchNormConv2d(x: Tensor, bn: BatchNormOptions, w: Tensor, bias: Tensor | null = null, conv: Conv2dOptions = {}): Tensor {
  const op = 'batchNormConv2d';
  if (bn.residual) throw shapeError(op, 'a residual cannot be added before the convolution (use batchNorm, then conv2d)', { input: x.shape, residual: bn.residual.shape });
  checkBatchNorm(op, x, bn);
  const { be, p, shape } = checkConv2d(op, x, w, bias, conv);
  if (!bn.training) return batchNormThenConv2d(x, bn, w, bias, conv);
  const { x2, mean, invstd, M, C } = trainingStatistics(op, x, bn);
  const gamma = bn.gamma ?? null, beta = bn.beta ?? null, relu = !!bn.relu;
  const norm: InputNorm = { mean, invstd, gamma, beta, relu };
  const z = wrap(be, be.conv2d(x, w, bias, p, conv.batchNormGroups ?? 0, norm), shape, x.dtype);
  if (needsGrad(x, gamma, beta, w, bias)) {
    const sx = save(x), sm = save(mean), si = save(invstd), sw = save(w);
    const sg = gamma ? save(gamma) : null, sb = beta ? save(beta) : null;
    const name = relu ? 'batchNorm+relu+conv2d' : 'batchNorm+conv2d';
    record(z, name, [...bnInputs(x, gamma, beta, null), w, ...(bias ? [bias] : [])], (g) => {
      const n: InputNorm = { mean: sm, invstd: si, gamma: sg, beta: sb, relu };
      const gw = w.requiresGrad ? wrap(be, be.conv2dBackwardWeight(sx, g, w.shape, p, gradSink(w), n), w.shape, w.dtype) : null;
      const gb = bias?.requiresGrad ? sum(g, [0, 1, 2]) : null;
      const tail = (): (Tensor | null)[] => (bias ? [gw, gb] : [gw]);
      if (!x.requiresGrad && !gamma?.requiresGrad && !beta?.requiresGrad) {
        return [null, ...(gamma ? [null] : []), ...(beta ? [null] : []), ...tail()]; // nothing upstream wants the map's gradient
      }
      // The gradient of the normalised map lives only until batch norm's backward has used it.
      const dy = wrap(be, be.conv2dBackwardData(g, sw, x.shape, p, null), [M, C], x.dtype);
      const sx2 = sx.alias([M, C]);
      const r = be.batchNormBackward(sx2, dy, sm, si, sg, { dgamma: gradSink(gamma), dbeta: gradSink(beta) }, null, relu ? { beta: sb } : null);
      dy.dispose(); sx2.dispose();
      if (r.dyMasked) wrap(be, r.dyMasked, [M, C], x.dtype).dispose();
      const dg = wrap(be, r.dgamma, [C], x.dtype), db = wrap(be, r.dbeta, [C], x.dtype);
      const out: (Tensor | null)[] = [wrap(be, r.dx, x.shape, x.dtype)];
      if (gamma) out.push(dg); else dg.dispose();
      if (beta) out.push(db); else db.dispose();
      return [...out, ...tail()];
    }, [sx, sm, si, sw, ...(sg ? [sg] : []), ...(sb ? [sb] : [])]);
  }
  x2.dispose();
  mean.dispose(); invstd.dispose();
  return z;
}
