// Views and copies that move data around: reshape, permute, slice, concat, gather.
import { Tensor } from '../tensor.js';
import { normAxis, numel, type Shape } from '../runtime/shape.js';
import { fmtShape, ShapeError, shapeError } from '../runtime/errors.js';
import { needsGrad, record, save } from '../autograd/tape.js';
import { sameBackend, wrap } from './util.js';
import { add } from './elementwise.js';
import { zeros } from './creation.js';

/** Same data, new shape (one dim may be −1). */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const s = [...shape];
  const neg = s.indexOf(-1);
  if (neg >= 0) {
    const rest = numel(s.filter((_, i) => i !== neg));
    s[neg] = rest === 0 ? 0 : x.size / rest;
  }
  if (numel(s) !== x.size || s.some((d) => !Number.isInteger(d) || d < 0)) {
    throw shapeError('reshape', `cannot view ${x.size} elements as ${fmtShape(shape)}`, { x: x.shape, target: shape });
  }
  const y = x.alias(s);
  if (needsGrad(x)) record(y, 'reshape', [x], (g) => [reshape(g, x.shape)]);
  return y;
}

/** Flatten dims [start, end] into one. */
export function flatten(x: Tensor, start = 1, end = -1): Tensor {
  const s = normAxis(start, x.rank), e = normAxis(end, x.rank);
  const shape = [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

export function permute(x: Tensor, perm: number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new ShapeError(`permute: [${perm}] is not a permutation of the ${x.rank} dims of ${fmtShape(x.shape)}`);
  }
  const shape = perm.map((p) => x.shape[p]);
  const y = wrap(x.backend, x.backend.permute(x, perm), shape, x.dtype);
  if (needsGrad(x)) {
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    record(y, 'permute', [x], (g) => [permute(g, inv)]);
  }
  return y;
}

/** Swap the last two dims. */
export function transpose(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return permute(x, perm);
}

/** x[begin : begin+size] per dim (size −1 = to the end). */
export function slice(x: Tensor, begin: number[], size: number[]): Tensor {
  if (begin.length !== x.rank || size.length !== x.rank) {
    throw new ShapeError(`slice: begin [${begin}] / size [${size}] must have one entry per dim of ${fmtShape(x.shape)}`);
  }
  const sz = size.map((s, i) => (s === -1 ? x.shape[i] - begin[i] : s));
  sz.forEach((s, i) => {
    if (begin[i] < 0 || s < 0 || begin[i] + s > x.shape[i]) {
      throw new ShapeError(`slice: begin [${begin}] size [${size}] out of bounds for ${fmtShape(x.shape)}`);
    }
  });
  const y = wrap(x.backend, x.backend.slice(x, begin, sz), sz, x.dtype);
  if (needsGrad(x)) record(y, 'slice', [x], (g) => [wrap(g.backend, g.backend.pad(g, begin, x.shape), x.shape, g.dtype)]);
  return y;
}

export function concat(xs: Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new ShapeError('concat: no tensors');
  const be = sameBackend('concat', ...xs);
  const ax = normAxis(axis, xs[0].rank, 'concat');
  for (const t of xs) {
    if (t.rank !== xs[0].rank || t.shape.some((d, i) => i !== ax && d !== xs[0].shape[i])) {
      throw new ShapeError(`concat: shapes differ outside axis ${ax}: ${xs.map((t) => fmtShape(t.shape)).join(', ')}`);
    }
  }
  const shape = [...xs[0].shape];
  shape[ax] = xs.reduce((a, t) => a + t.shape[ax], 0);
  const y = wrap(be, be.concat(xs, ax), shape, xs[0].dtype);
  if (needsGrad(...xs)) {
    record(y, 'concat', xs, (g) => {
      let off = 0;
      return xs.map((t) => {
        const begin = shape.map((_, i) => (i === ax ? off : 0));
        off += t.shape[ax];
        return t.requiresGrad ? slice(g, begin, [...t.shape]) : null;
      });
    });
  }
  return y;
}

/** Select entries along `axis` by i32 indices (masked selection of spatial positions). */
export function gather(x: Tensor, axis: number, idx: Tensor): Tensor {
  const ax = normAxis(axis, x.rank, 'gather');
  if (idx.dtype !== 'i32' || idx.rank !== 1) throw new ShapeError(`gather: indices must be a 1-D i32 tensor, got ${idx.describe()}`);
  const shape = [...x.shape];
  shape[ax] = idx.size;
  const y = wrap(x.backend, x.backend.gather(x, ax, idx), shape, x.dtype);
  if (needsGrad(x)) {
    const si = save(idx);
    record(y, 'gather', [x], (g) => [wrap(g.backend, g.backend.scatterAdd(g, ax, si, x.shape), x.shape, g.dtype)], [si]);
  }
  return y;
}

/** Broadcast x to a larger shape (a copy; gradient sums back). */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  if (x.rank === shape.length && x.shape.every((d, i) => d === shape[i])) return reshape(x, shape);
  return add(x, zeros(shape, { dtype: x.dtype, backend: x.backend }));
}
