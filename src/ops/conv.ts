// 2-D convolution over NHWC feature maps with OIHW (torchvision-shaped) weights.
import { Tensor } from '../tensor.js';
import { convOutSize } from '../runtime/shape.js';
import { shapeError } from '../runtime/errors.js';
import type { Backend, Conv2dParams } from '../backend/backend.js';
import { claimPendingGrad, gradSink, needsGrad, record, save } from '../autograd/tape.js';
import { sameBackend, wrap } from './util.js';
import { sum } from './reduce.js';

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  /**
   * The output goes straight into a training-mode batch norm over this many groups of rows
   * (batchNorm's `groups`; 0 or absent: it does not). A hint: the WebGPU backend then computes
   * the statistics while writing the output; results are the same either way.
   */
  batchNormGroups?: number;
}

const pair = (v: number | [number, number] | undefined, d: number): [number, number] =>
  v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : v;

/** conv2d's shape checks (x's shape standing for its input's): the backend, parameters and output shape. */
export function checkConv2d(op: string, x: Tensor, w: Tensor, bias: Tensor | null, opts: Conv2dOptions): { be: Backend; p: Conv2dParams; shape: number[] } {
  const be = sameBackend(op, x, w, ...(bias ? [bias] : []));
  const p: Conv2dParams = { stride: pair(opts.stride, 1), pad: pair(opts.padding, 0) };
  if (x.rank !== 4 || w.rank !== 4) {
    throw shapeError(op, 'expected input [N, H, W, C] (NHWC) and weight [Cout, Cin, kh, kw]', { input: x.shape, weight: w.shape });
  }
  const [N, H, W, C] = x.shape;
  const [Co, Ci, kh, kw] = w.shape;
  if (C !== Ci) {
    throw shapeError(op, `input has ${C} channels but the weight expects ${Ci}`, { input: x.shape, weight: w.shape });
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== Co)) throw shapeError(op, `bias must be [${Co}]`, { bias: bias.shape, weight: w.shape });
  const Ho = convOutSize(H, kh, p.stride[0], p.pad[0]);
  const Wo = convOutSize(W, kw, p.stride[1], p.pad[1]);
  if (Ho <= 0 || Wo <= 0) {
    throw shapeError(op, `kernel ${kh}×${kw} with padding ${p.pad} does not fit the ${H}×${W} input`, { input: x.shape, weight: w.shape });
  }
  return { be, p, shape: [N, Ho, Wo, Co] };
}

/** x [N, H, W, Cin] (NHWC), w [Cout, Cin, kh, kw], bias [Cout] → [N, Ho, Wo, Cout]. */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | null = null, opts: Conv2dOptions = {}): Tensor {
  const { be, p, shape } = checkConv2d('conv2d', x, w, bias, opts);
  const y = wrap(be, be.conv2d(x, w, bias, p, opts.batchNormGroups ?? 0), shape, x.dtype);
  if (needsGrad(x, w, bias)) {
    const sx = save(x), sw = save(w);
    const inputs = bias ? [x, w, bias] : [x, w];
    record(y, 'conv2d', inputs, (g) => {
      // x's gradient from its other consumers (a residual block's shortcut) joins dx in one pass.
      const gx = x.requiresGrad ? wrap(be, be.conv2dBackwardData(g, sw, x.shape, p, claimPendingGrad(x)), x.shape, x.dtype) : null;
      const gw = w.requiresGrad ? wrap(be, be.conv2dBackwardWeight(sx, g, w.shape, p, gradSink(w)), w.shape, w.dtype) : null;
      const gb = bias?.requiresGrad ? sum(g, [0, 1, 2]) : null;
      return bias ? [gx, gw, gb] : [gx, gw];
    }, [sx, sw]);
  }
  return y;
}
