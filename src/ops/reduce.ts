// Sums, means and maxima over axes.
import { Tensor } from '../tensor.js';
import { normAxis, type Shape } from '../runtime/shape.js';
import { needsGrad, record, save } from '../autograd/tape.js';
import { wrap } from './util.js';
import { reshape, broadcastTo } from './layout.js';
import { mul, mulScalar } from './elementwise.js';

function normAxes(x: Tensor, axes: number | number[] | undefined): number[] {
  const list = axes === undefined ? x.shape.map((_, i) => i) : Array.isArray(axes) ? axes : [axes];
  return [...new Set(list.map((a) => normAxis(a, x.rank, 'reduce')))].sort((a, b) => a - b);
}

function keptShape(shape: Shape, axes: number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function droppedShape(shape: Shape, axes: number[]): number[] {
  return shape.filter((_, i) => !axes.includes(i));
}

/** Sum over axes (all when omitted); keepDims keeps reduced axes as size 1. */
export function sum(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const ax = normAxes(x, axes);
  const y0 = wrap(x.backend, x.backend.reduce('sum', x, ax), droppedShape(x.shape, ax), x.dtype);
  const y = keepDims ? reshapeNoGrad(y0, keptShape(x.shape, ax)) : y0;
  if (needsGrad(x)) record(y, 'sum', [x], (g) => [broadcastTo(reshape(g, keptShape(x.shape, ax)), x.shape)]);
  return y;
}

/** Internal: sum over given (already normalised) axes, used by sumTo. */
export function sumAxes(x: Tensor, axes: number[]): Tensor { return sum(x, axes); }

export function mean(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const ax = normAxes(x, axes);
  let n = 1;
  for (const a of ax) n *= x.shape[a];
  return mulScalar(sum(x, ax, keepDims), 1 / n);
}

/** Max over axes; the gradient goes to every position equal to the max. */
export function max(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const ax = normAxes(x, axes);
  const y0 = wrap(x.backend, x.backend.reduce('max', x, ax), droppedShape(x.shape, ax), x.dtype);
  const y = keepDims ? reshapeNoGrad(y0, keptShape(x.shape, ax)) : y0;
  if (needsGrad(x)) {
    const sx = save(x), sy = save(y);
    record(y, 'max', [x], (g) => {
      const yk = reshape(sy, keptShape(x.shape, ax));
      const mask = wrap(x.backend, x.backend.binary('eq', sx, yk, x.shape), x.shape, x.dtype);
      return [mul(broadcastTo(reshape(g, keptShape(x.shape, ax)), x.shape), mask)];
    }, [sx, sy]);
  }
  return y;
}

function reshapeNoGrad(t: Tensor, shape: Shape): Tensor {
  const r = t.alias(shape);
  t.dispose();
  return r;
}
