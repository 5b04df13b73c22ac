// Softmax family over the last axis, with temperature, and cross-entropy losses.
import { Tensor } from '../tensor.js';
import { shapeError } from '../runtime/errors.js';
import { needsGrad, record, save } from '../autograd/tape.js';
import { wrap } from './util.js';
import { mul, mulScalar, neg } from './elementwise.js';
import { mean, sum } from './reduce.js';

function softmaxCore(x: Tensor, logSpace: boolean): Tensor {
  const y = wrap(x.backend, x.backend.softmax(x, logSpace), x.shape, x.dtype);
  if (needsGrad(x)) {
    const sy = save(y);
    record(y, logSpace ? 'logSoftmax' : 'softmax', [x], (g) => [wrap(g.backend, g.backend.softmaxBackward(sy, g, logSpace), x.shape, x.dtype)], [sy]);
  }
  return y;
}

/** softmax(x / temperature) over the last axis. */
export function softmax(x: Tensor, temperature = 1): Tensor {
  return softmaxCore(temperature === 1 ? x : mulScalar(x, 1 / temperature), false);
}

/** log softmax(x / temperature) over the last axis. */
export function logSoftmax(x: Tensor, temperature = 1): Tensor {
  return softmaxCore(temperature === 1 ? x : mulScalar(x, 1 / temperature), true);
}

/** Mean cross-entropy of logits [N, K] against integer labels [N] (i32). */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  if (logits.rank !== 2 || labels.rank !== 1 || labels.shape[0] !== logits.shape[0] || labels.dtype !== 'i32') {
    throw shapeError('crossEntropy', 'expected logits [N, K] and i32 labels [N]', { logits: logits.shape, labels: labels.shape });
  }
  const be = logits.backend;
  const N = logits.shape[0];
  const per = wrap(be, be.crossEntropy(logits, labels), [N], logits.dtype);
  if (needsGrad(logits)) {
    const sl = save(logits), sy = save(labels);
    record(per, 'crossEntropy', [logits], (g) => [wrap(be, be.crossEntropyBackward(sl, sy, g), logits.shape, logits.dtype)], [sl, sy]);
  }
  return mean(per);
}

/** Mean over rows of −Σ_k target_k · log softmax(logits / T)_k (soft targets, as DINO). */
export function softCrossEntropy(logits: Tensor, target: Tensor, temperature = 1): Tensor {
  if (logits.rank !== 2 || target.rank !== 2 || logits.shape[0] !== target.shape[0] || logits.shape[1] !== target.shape[1]) {
    throw shapeError('softCrossEntropy', 'logits and targets must both be [N, K]', { logits: logits.shape, target: target.shape });
  }
  return neg(mean(sum(mul(target, logSoftmax(logits, temperature)), 1)));
}
