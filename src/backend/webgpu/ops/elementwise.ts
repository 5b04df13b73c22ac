// Elementwise kernels: fill, cast, unary ops, activation gradients, broadcasting binary ops and
// tensor-scalar ops (kernels/fill.wgsl, cast.wgsl, elementwise.wgsl, binary.wgsl).
import type { BinaryOp, Raw, ScalarOp, UnaryGradOp, UnaryOp, Storage } from '../../backend.js';
import type { DType } from '../../../runtime/dtype.js';
import { broadcastStrides, numel, sameShape, type Shape } from '../../../runtime/shape.js';
import { BackendError } from '../../../runtime/errors.js';
import type { GpuContext } from '../context.js';
import { params } from '../params.js';
import { alloc, bytesFor, checkRank, f64Error, gpu, grid, mergeDims, need32 } from './util.js';

// Op codes shared with the WGSL switches.
const UNARY: Record<UnaryOp, number> = {
  neg: 0, exp: 1, log: 2, sqrt: 3, rsqrt: 4, abs: 5, square: 6, reciprocal: 7,
  relu: 8, gelu: 9, sigmoid: 10, tanh: 11, sign: 12,
};
const UNARY_I32 = new Set<UnaryOp>(['neg', 'abs', 'square', 'relu', 'sign']);
const BINARY: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3, max: 4, min: 5, gt: 6, eq: 7 };
const SCALAR: Record<ScalarOp, number> = { add: 0, mul: 1, rsub: 2, rdiv: 3, pow: 4, max: 5, min: 6 };
const DTYPE_CODE: Record<string, number> = { f32: 0, i32: 1, u8: 2 };

export function fill(ctx: GpuContext, size: number, dtype: DType, value: number): Storage {
  const out = alloc(ctx, size, dtype);
  const words = Math.ceil(bytesFor(size, dtype) / 4);
  if (words === 0) return out;
  const p = params().u32(words);
  if (dtype === 'f32') p.f32(value);
  else if (dtype === 'i32') p.i32(value);
  else { const b = value & 0xff; p.u32((b | (b << 8) | (b << 16) | (b << 24)) >>> 0); }
  ctx.dispatch(ctx.pipeline({ file: 'fill.wgsl', entryPoint: 'fill_u32' }), [out], p.bytes(), grid(ctx, words), `fill ${dtype}`);
  return out;
}

export function cast(ctx: GpuContext, x: Raw, dtype: DType): Storage {
  if (x.dtype === 'f64' || dtype === 'f64') throw f64Error();
  const n = numel(x.shape);
  const out = alloc(ctx, n, dtype);
  if (n === 0) return out;
  const constants = { SRC: DTYPE_CODE[x.dtype], DST: DTYPE_CODE[dtype] };
  const toU8 = dtype === 'u8';
  const entryPoint = toU8 ? 'cast_to_u8' : 'cast_elem';
  ctx.dispatch(ctx.pipeline({ file: 'cast.wgsl', entryPoint, constants }), [gpu(x), out], params().u32(n).bytes(),
    grid(ctx, toU8 ? Math.ceil(n / 4) : n), `cast ${x.dtype}→${dtype}`);
  return out;
}

export function unary(ctx: GpuContext, op: UnaryOp, x: Raw): Storage {
  need32(`unary ${op}`, x);
  if (x.dtype === 'i32' && !UNARY_I32.has(op)) throw new BackendError(`unary ${op}: needs a float tensor, got i32`);
  const n = numel(x.shape);
  const out = alloc(ctx, n, x.dtype);
  if (n === 0) return out;
  const entryPoint = x.dtype === 'f32' ? 'unary_f32' : 'unary_i32';
  ctx.dispatch(ctx.pipeline({ file: 'elementwise.wgsl', entryPoint, constants: { OP: UNARY[op] } }),
    [gpu(x), out], params().u32(n).bytes(), grid(ctx, n), `unary ${op}`);
  return out;
}

export function unaryGrad(ctx: GpuContext, op: UnaryGradOp, x: Raw, dy: Raw): Storage {
  need32(`unaryGrad ${op}`, x, ['f32']);
  const n = numel(x.shape);
  const out = alloc(ctx, n, x.dtype);
  if (n === 0) return out;
  ctx.dispatch(ctx.pipeline({ file: 'elementwise.wgsl', entryPoint: 'unary_grad', constants: { OP: UNARY[op] } }),
    [gpu(x), gpu(dy), out], params().u32(n).bytes(), grid(ctx, n), `unaryGrad ${op}`);
  return out;
}

export function scalar(ctx: GpuContext, op: ScalarOp, x: Raw, s: number): Storage {
  need32(`scalar ${op}`, x);
  const n = numel(x.shape);
  const out = alloc(ctx, n, x.dtype);
  if (n === 0) return out;
  const entryPoint = x.dtype === 'f32' ? 'scalar_f32' : 'scalar_i32';
  ctx.dispatch(ctx.pipeline({ file: 'elementwise.wgsl', entryPoint, constants: { OP: SCALAR[op] } }),
    [gpu(x), out], params().u32(n, 0).f32(s).bytes(), grid(ctx, n), `scalar ${op}`);
  return out;
}

export function binary(ctx: GpuContext, op: BinaryOp, a: Raw, b: Raw, outShape: Shape): Storage {
  need32(`binary ${op}`, a);
  if (a.dtype !== b.dtype) throw new BackendError(`binary ${op}: dtype mismatch ${a.dtype} vs ${b.dtype}`);
  const n = numel(outShape);
  const out = alloc(ctx, n, a.dtype);
  if (n === 0) return out;
  const entryPoint = a.dtype === 'f32' ? 'binary_f32' : 'binary_i32';
  const same = sameShape(a.shape, outShape) && sameShape(b.shape, outShape);
  const m = mergeDims(outShape, [broadcastStrides(a.shape, outShape), broadcastStrides(b.shape, outShape)]);
  checkRank(`binary ${op}`, m.shape);
  const p = params().u32(n, m.shape.length).vec4s(m.shape, 2).vec4s(m.strides[0], 2).vec4s(m.strides[1], 2);
  ctx.dispatch(ctx.pipeline({ file: 'binary.wgsl', entryPoint, constants: { OP: BINARY[op], BCAST: same ? 0 : 1 } }),
    [gpu(a), gpu(b), out], p.bytes(), grid(ctx, n), `binary ${op}`);
  return out;
}
