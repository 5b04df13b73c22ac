// Sum / max / mean over arbitrary axes (kernels/reduce.wgsl), without permuting first.
// Strategy by shape: many outputs with short reductions → one thread per output; otherwise one
// workgroup per (output, chunk of ≤ 4096 elements), and when that needs several chunks per
// output their partials [nOut, G] are reduced by a second (recursive) pass. Mean is a sum
// scaled by 1/R on the last pass.
import type { Raw, ReduceOp, Storage } from '../../backend.js';
import { numel, stridesOf, type Shape } from '../../../runtime/shape.js';
import { BackendError, fmtShape } from '../../../runtime/errors.js';
import type { GpuContext, GpuStorage } from '../context.js';
import { params } from '../params.js';
import { alloc, gpu, grid, mergeDims, need32 } from './util.js';

const CHUNK = 4096;

export function reduce(ctx: GpuContext, op: ReduceOp, x: Raw, axes: number[]): Storage {
  need32(`reduce ${op}`, x, ['f32']);
  let R = 1;
  for (const a of axes) R *= x.shape[a];
  const outShape = x.shape.filter((_, i) => !axes.includes(i));
  if (numel(outShape) === 0) return alloc(ctx, 0, x.dtype);
  if (R === 0) throw new BackendError(`reduce ${op}: empty reduction over axes [${axes}] of ${fmtShape(x.shape)}`);
  return reducePass(ctx, gpu(x), x.shape, axes, op === 'max' ? 1 : 0, op === 'mean' ? 1 / R : 1);
}

function reducePass(ctx: GpuContext, src: GpuStorage, shape: Shape, axes: number[], opCode: number, scale: number): GpuStorage {
  const strides = stridesOf(shape);
  const keptDims = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const kept = mergeDims(keptDims.map((i) => shape[i]), [keptDims.map((i) => strides[i])]);
  const red = mergeDims(axes.map((i) => shape[i]), [axes.map((i) => strides[i])]);
  if (kept.shape.length > 4 || red.shape.length > 4) {
    throw new BackendError(`reduce: axes [${axes}] of ${fmtShape(shape)} interleave too often for the webgpu kernel (max 4 groups each)`);
  }
  const nOut = numel(kept.shape);
  const R = numel(red.shape);
  const label = `reduce axes [${axes}] of ${fmtShape(shape)}`;
  const block = (G: number, chunk: number, s: number) => params()
    .u32(nOut, R, G, chunk, kept.shape.length, red.shape.length).f32(s).u32(opCode)
    .vec4s(kept.shape, 1).vec4s(kept.strides[0], 1).vec4s(red.shape, 1).vec4s(red.strides[0], 1).bytes();

  if (R <= 64 || (nOut >= 16384 && R <= CHUNK)) {
    const out = ctx.alloc(4 * nOut);
    ctx.dispatch(ctx.pipeline({ file: 'reduce.wgsl', entryPoint: 'reduce_thread' }),
      [src, out], block(1, R, scale), grid(ctx, nOut), label);
    return out;
  }
  // Enough workgroups to fill the device, but chunks no shorter than CHUNK.
  let G = Math.min(Math.ceil(R / CHUNK), Math.max(1, Math.ceil(1024 / nOut)));
  const chunk = Math.ceil(R / G);
  G = Math.ceil(R / chunk);
  const out = ctx.alloc(4 * nOut * G);
  ctx.dispatch(ctx.pipeline({ file: 'reduce.wgsl', entryPoint: 'reduce_wg' }),
    [src, out], block(G, chunk, G === 1 ? scale : 1), grid(ctx, nOut * G, 1), label);
  if (G === 1) return out;
  const final = reducePass(ctx, out, [nOut, G], [1], opCode, scale);
  ctx.release(out);
  return final;
}
