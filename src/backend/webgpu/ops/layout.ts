// Data movement (kernels/layout.wgsl). permute, slice, pad, concat and copyInto are all one
// strided copy: iterate a shape, read at src offset + coords·srcStride, write at dst offset +
// coords·dstStride. Kernels move 32-bit words, so f32 and i32 share pipelines.
import type { Raw, Storage } from '../../backend.js';
import { numel, stridesOf, type Shape } from '../../../runtime/shape.js';
import { BackendError, fmtShape } from '../../../runtime/errors.js';
import type { GpuContext, GpuStorage } from '../context.js';
import { params } from '../params.js';
import { alloc, checkRank, gpu, grid, mergeDims, need32 } from './util.js';
import { fill } from './elementwise.js';

function stridedCopy(ctx: GpuContext, src: GpuStorage, dst: GpuStorage, shape: Shape,
  srcOffset: number, srcStrides: number[], dstOffset: number, dstStrides: number[], label: string): void {
  const n = numel(shape);
  if (n === 0) return;
  const m = mergeDims(shape, [srcStrides, dstStrides]);
  checkRank(label, m.shape);
  const p = params().u32(n, m.shape.length, srcOffset, dstOffset)
    .vec4s(m.shape, 2).vec4s(m.strides[0], 2).vec4s(m.strides[1], 2);
  ctx.dispatch(ctx.pipeline({ file: 'layout.wgsl', entryPoint: 'copy_strided' }), [src, dst], p.bytes(), grid(ctx, n), label);
}

export function permute(ctx: GpuContext, x: Raw, perm: number[]): Storage {
  need32('permute', x);
  const shape = perm.map((p) => x.shape[p]);
  const out = alloc(ctx, shape, x.dtype);
  const xs = stridesOf(x.shape);
  stridedCopy(ctx, gpu(x), out, shape, 0, perm.map((p) => xs[p]), 0, stridesOf(shape), `permute [${perm}] of ${fmtShape(x.shape)}`);
  return out;
}

export function slice(ctx: GpuContext, x: Raw, begin: number[], size: number[]): Storage {
  need32('slice', x);
  const out = alloc(ctx, size, x.dtype);
  const xs = stridesOf(x.shape);
  const off = begin.reduce((acc, b, i) => acc + b * xs[i], 0);
  stridedCopy(ctx, gpu(x), out, size, off, xs, 0, stridesOf(size), `slice of ${fmtShape(x.shape)}`);
  return out;
}

export function pad(ctx: GpuContext, x: Raw, begin: number[], outShape: Shape): Storage {
  need32('pad', x);
  const out = fill(ctx, numel(outShape), x.dtype, 0) as GpuStorage;
  const os = stridesOf(outShape);
  const off = begin.reduce((acc, b, i) => acc + b * os[i], 0);
  stridedCopy(ctx, gpu(x), out, x.shape, 0, stridesOf(x.shape), off, os, `pad ${fmtShape(x.shape)} into ${fmtShape(outShape)}`);
  return out;
}

export function concat(ctx: GpuContext, xs: Raw[], axis: number): Storage {
  for (const x of xs) need32('concat', x);
  const shape = [...xs[0].shape];
  shape[axis] = xs.reduce((a, t) => a + t.shape[axis], 0);
  const out = alloc(ctx, shape, xs[0].dtype);
  const os = stridesOf(shape);
  let at = 0;
  for (const x of xs) {
    stridedCopy(ctx, gpu(x), out, x.shape, 0, stridesOf(x.shape), at * os[axis], os, `concat part ${fmtShape(x.shape)}`);
    at += x.shape[axis];
  }
  return out;
}

export function copyInto(ctx: GpuContext, dst: Raw, dstOffset: number, src: Raw): void {
  need32('copyInto', src);
  if (dst.dtype !== src.dtype) throw new BackendError(`copyInto: dtype mismatch ${dst.dtype} vs ${src.dtype}`);
  const n = numel(src.shape);
  if (dstOffset < 0 || dstOffset + n > numel(dst.shape)) {
    throw new BackendError(`copyInto: ${n} elements at offset ${dstOffset} overflow ${fmtShape(dst.shape)}`);
  }
  stridedCopy(ctx, gpu(src), gpu(dst), [n], 0, [1], dstOffset, [1], `copyInto offset ${dstOffset}`);
}

function around(shape: Shape, axis: number): { pre: number; A: number; post: number } {
  return { pre: numel(shape.slice(0, axis)), A: shape[axis], post: numel(shape.slice(axis + 1)) };
}

export function gather(ctx: GpuContext, x: Raw, axis: number, idx: Raw): Storage {
  need32('gather', x);
  need32('gather indices', idx, ['i32']);
  const { pre, A, post } = around(x.shape, axis);
  const J = numel(idx.shape);
  const out = alloc(ctx, pre * J * post, x.dtype);
  if (pre * J * post === 0) return out;
  ctx.dispatch(ctx.pipeline({ file: 'layout.wgsl', entryPoint: 'gather' }), [gpu(x), gpu(idx), out],
    params().u32(pre, A, J, post).bytes(), grid(ctx, pre * J * post), `gather axis ${axis} of ${fmtShape(x.shape)}`);
  return out;
}

export function scatterAdd(ctx: GpuContext, dy: Raw, axis: number, idx: Raw, outShape: Shape): Storage {
  need32('scatterAdd', dy, ['f32']);
  need32('scatterAdd indices', idx, ['i32']);
  const { pre, A, post } = around(outShape, axis);
  const J = numel(idx.shape);
  const n = numel(outShape);
  if (J === 0) return fill(ctx, n, dy.dtype, 0);
  const out = alloc(ctx, n, dy.dtype);
  if (n === 0) return out;
  ctx.dispatch(ctx.pipeline({ file: 'layout.wgsl', entryPoint: 'scatter_add' }), [gpu(dy), gpu(idx), out],
    params().u32(pre, A, J, post).bytes(), grid(ctx, n), `scatterAdd axis ${axis} into ${fmtShape(outShape)}`);
  return out;
}
