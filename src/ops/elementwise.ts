// Elementwise ops with broadcasting, scalar ops and activations, each with its gradient.
import type { BinaryOp, ScalarOp, UnaryOp, UnaryGradOp } from '../backend/backend.js';
import { Tensor } from '../tensor.js';
import { broadcastShapes, broadcastedAxes, sameShape, type Shape } from '../runtime/shape.js';
import { needsGrad, record, save } from '../autograd/tape.js';
import { sameBackend, wrap } from './util.js';
import { sumAxes } from './reduce.js';
import { reshape } from './layout.js';

/** Sum a broadcast gradient back down to `shape`. */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const axes = broadcastedAxes(shape, g.shape);
  return reshape(sumAxes(g, axes), shape);
}

function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const be = sameBackend(op, a, b);
  const outShape = broadcastShapes(a.shape, b.shape, op);
  return wrap(be, be.binary(op, a, b, outShape), outShape, a.dtype);
}

export function add(a: Tensor, b: Tensor): Tensor {
  const y = binaryRaw('add', a, b);
  if (needsGrad(a, b)) record(y, 'add', [a, b], (g) => [sumTo(g, a.shape), sumTo(g, b.shape)]);
  return y;
}

export function sub(a: Tensor, b: Tensor): Tensor {
  const y = binaryRaw('sub', a, b);
  if (needsGrad(a, b)) record(y, 'sub', [a, b], (g) => [sumTo(g, a.shape), b.requiresGrad ? neg(sumTo(g, b.shape)) : null]);
  return y;
}

export function mul(a: Tensor, b: Tensor): Tensor {
  const y = binaryRaw('mul', a, b);
  if (needsGrad(a, b)) {
    const sa = save(a), sb = save(b);
    record(y, 'mul', [a, b], (g) => [
      a.requiresGrad ? sumTo(mul(g, sb), a.shape) : null,
      b.requiresGrad ? sumTo(mul(g, sa), b.shape) : null,
    ], [sa, sb]);
  }
  return y;
}

export function div(a: Tensor, b: Tensor): Tensor {
  const y = binaryRaw('div', a, b);
  if (needsGrad(a, b)) {
    const sb = save(b), sy = save(y);
    record(y, 'div', [a, b], (g) => {
      const ga = div(g, sb);
      const gb = b.requiresGrad ? sumTo(neg(mul(ga, sy)), b.shape) : null;
      return [a.requiresGrad ? sumTo(ga, a.shape) : null, gb];
    }, [sb, sy]);
  }
  return y;
}

/** Elementwise max; the gradient goes to `a` where a ≥ b, else to b. */
export function maximum(a: Tensor, b: Tensor): Tensor {
  const y = binaryRaw('max', a, b);
  if (needsGrad(a, b)) {
    const sa = save(a), sb = save(b);
    record(y, 'maximum', [a, b], (g) => {
      const maskA = binaryRaw('gt', sa, sb), eq = binaryRaw('eq', sa, sb);
      const ma = binaryRaw('add', maskA, eq); // ties go to a
      const ga = mul(g, ma);
      return [sumTo(ga, a.shape), b.requiresGrad ? sumTo(sub(g, ga), b.shape) : null];
    }, [sa, sb]);
  }
  return y;
}

/** 1 where a > b else 0 (no gradient). */
export function greater(a: Tensor, b: Tensor): Tensor { return binaryRaw('gt', a, b); }

function unaryRaw(op: UnaryOp, x: Tensor): Tensor {
  return wrap(x.backend, x.backend.unary(op, x), x.shape, x.dtype);
}

function scalarRaw(op: ScalarOp, x: Tensor, s: number): Tensor {
  return wrap(x.backend, x.backend.scalar(op, x, s), x.shape, x.dtype);
}

export function neg(x: Tensor): Tensor {
  const y = unaryRaw('neg', x);
  if (needsGrad(x)) record(y, 'neg', [x], (g) => [neg(g)]);
  return y;
}

export function exp(x: Tensor): Tensor {
  const y = unaryRaw('exp', x);
  if (needsGrad(x)) { const sy = save(y); record(y, 'exp', [x], (g) => [mul(g, sy)], [sy]); }
  return y;
}

export function log(x: Tensor): Tensor {
  const y = unaryRaw('log', x);
  if (needsGrad(x)) { const sx = save(x); record(y, 'log', [x], (g) => [div(g, sx)], [sx]); }
  return y;
}

export function sqrt(x: Tensor): Tensor {
  const y = unaryRaw('sqrt', x);
  if (needsGrad(x)) { const sy = save(y); record(y, 'sqrt', [x], (g) => [mulScalar(div(g, sy), 0.5)], [sy]); }
  return y;
}

export function rsqrt(x: Tensor): Tensor {
  const y = unaryRaw('rsqrt', x);
  if (needsGrad(x)) {
    const sx = save(x), sy = save(y);
    // d/dx x^{-1/2} = -1/2 · y / x
    record(y, 'rsqrt', [x], (g) => [mulScalar(div(mul(g, sy), sx), -0.5)], [sx, sy]);
  }
  return y;
}

export function square(x: Tensor): Tensor {
  const y = unaryRaw('square', x);
  if (needsGrad(x)) { const sx = save(x); record(y, 'square', [x], (g) => [mulScalar(mul(g, sx), 2)], [sx]); }
  return y;
}

export function abs(x: Tensor): Tensor {
  const y = unaryRaw('abs', x);
  if (needsGrad(x)) { const sx = save(x); record(y, 'abs', [x], (g) => [mul(g, unaryRaw('sign', sx))], [sx]); }
  return y;
}

function activation(op: UnaryOp & UnaryGradOp, x: Tensor): Tensor {
  const y = unaryRaw(op, x);
  if (needsGrad(x)) {
    const sx = save(x);
    record(y, op, [x], (g) => [wrap(x.backend, x.backend.unaryGrad(op, sx, g), x.shape, x.dtype)], [sx]);
  }
  return y;
}

export const relu = (x: Tensor): Tensor => activation('relu', x);
/** Exact (erf) GELU, as PyTorch's default. */
export const gelu = (x: Tensor): Tensor => activation('gelu', x);
export const sigmoid = (x: Tensor): Tensor => activation('sigmoid', x);
export const tanh = (x: Tensor): Tensor => activation('tanh', x);

export function addScalar(x: Tensor, s: number): Tensor {
  const y = scalarRaw('add', x, s);
  if (needsGrad(x)) record(y, 'addScalar', [x], (g) => [g.alias()]);
  return y;
}

export function mulScalar(x: Tensor, s: number): Tensor {
  const y = scalarRaw('mul', x, s);
  if (needsGrad(x)) record(y, 'mulScalar', [x], (g) => [mulScalar(g, s)]);
  return y;
}

/** s − x */
export function rsubScalar(x: Tensor, s: number): Tensor {
  const y = scalarRaw('rsub', x, s);
  if (needsGrad(x)) record(y, 'rsubScalar', [x], (g) => [neg(g)]);
  return y;
}

export function powScalar(x: Tensor, p: number): Tensor {
  const y = scalarRaw('pow', x, p);
  if (needsGrad(x)) {
    const sx = save(x);
    record(y, 'powScalar', [x], (g) => [mulScalar(mul(g, scalarRaw('pow', sx, p - 1)), p)], [sx]);
  }
  return y;
}

/** max(x, s): the gradient passes where x > s. */
export function clampMin(x: Tensor, s: number): Tensor {
  const y = scalarRaw('max', x, s);
  if (needsGrad(x)) {
    const sx = save(x);
    record(y, 'clampMin', [x], (g) => [mul(g, unaryRaw('sign', scalarRaw('max', scalarRaw('add', sx, -s), 0)))], [sx]);
  }
  return y;
}
