// Pooling over NHWC maps.
import { Tensor } from '../tensor.js';
import { convOutSize } from '../runtime/shape.js';
import { shapeError } from '../runtime/errors.js';
import type { PoolParams } from '../backend/backend.js';
import { needsGrad, record, save } from '../autograd/tape.js';
import { assertRank, wrap } from './util.js';
import { mean } from './reduce.js';

export interface MaxPoolOptions { kernel?: number; stride?: number; padding?: number }

/** Max pool (default 3×3, stride 2, padding 1: the ResNet stem's). Padding never wins a max. */
export function maxPool2d(x: Tensor, opts: MaxPoolOptions = {}): Tensor {
  assertRank('maxPool2d', 'input', x, 4, 'NHWC');
  const k = opts.kernel ?? 3, s = opts.stride ?? 2, pd = opts.padding ?? 1;
  const p: PoolParams = { kernel: [k, k], stride: [s, s], pad: [pd, pd] };
  const [N, H, W, C] = x.shape;
  const Ho = convOutSize(H, k, s, pd), Wo = convOutSize(W, k, s, pd);
  if (Ho <= 0 || Wo <= 0 || pd * 2 > k) throw shapeError('maxPool2d', `kernel ${k} stride ${s} padding ${pd} does not fit`, { input: x.shape });
  const { y: ys, argmax } = x.backend.maxPool2d(x, p);
  const shape = [N, Ho, Wo, C];
  const y = wrap(x.backend, ys, shape, x.dtype);
  const am = wrap(x.backend, argmax, shape, 'i32');
  if (needsGrad(x)) {
    const sa = save(am);
    record(y, 'maxPool2d', [x], (g) => [wrap(g.backend, g.backend.maxPool2dBackward(g, sa, x.shape), x.shape, g.dtype)], [sa]);
  }
  am.dispose();
  return y;
}

/** Mean over H and W: [N, H, W, C] → [N, C]. */
export function globalAvgPool2d(x: Tensor): Tensor {
  assertRank('globalAvgPool2d', 'input', x, 4, 'NHWC');
  return mean(x, [1, 2]);
}
