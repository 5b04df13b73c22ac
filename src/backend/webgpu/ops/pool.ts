// Max pooling over NHWC maps (kernels/pool_max.wgsl). argmax follows the CPU backend: per
// output element, h·W + w of the winning input within its (image, channel) plane.
//
// The backward gathers per input element (no atomics), so it needs the window geometry, which
// Backend.maxPool2dBackward does not pass: the forward remembers it per argmax storage.
import type { PoolParams, Raw, Storage } from '../../backend.js';
import { BackendError, fmtShape } from '../../../runtime/errors.js';
import { convOutSize, numel, type Shape } from '../../../runtime/shape.js';
import type { GpuContext } from '../context.js';
import { params } from '../params.js';
import { gpu, grid, need32 } from './util.js';
import { asVec4 } from './gemm.js';

const poolOf = new WeakMap<object, PoolParams>();

function uniforms(xShape: Shape, Ho: number, Wo: number, p: PoolParams, total: number): Uint8Array {
  const [N, H, W, C] = xShape;
  return params().u32(N, H, W, C, Ho, Wo, p.kernel[0], p.kernel[1], p.stride[0], p.stride[1])
    .i32(p.pad[0], p.pad[1]).u32(total, 0, 0, 0).bytes();
}

export function maxPool2d(ctx: GpuContext, x: Raw, p: PoolParams): { y: Storage; argmax: Storage } {
  need32('maxPool2d', x, ['f32']);
  if (x.shape.length !== 4) throw new BackendError(`maxPool2d: expected NHWC input, got ${fmtShape(x.shape)}`);
  const [N, H, W, C] = x.shape;
  const Ho = convOutSize(H, p.kernel[0], p.stride[0], p.pad[0]), Wo = convOutSize(W, p.kernel[1], p.stride[1], p.pad[1]);
  const total = N * Ho * Wo * C;
  const y = ctx.alloc(4 * total), argmax = ctx.alloc(4 * total);
  poolOf.set(argmax, { kernel: [...p.kernel], stride: [...p.stride], pad: [...p.pad] });
  if (total === 0) return { y, argmax };
  const v = C % 4 === 0; // 4 channels per thread
  ctx.dispatch(ctx.pipeline({ file: 'pool_max.wgsl', entryPoint: v ? 'forward4' : 'forward' }), [gpu(x), y, argmax].map(v ? asVec4 : (s) => s),
    uniforms(x.shape, Ho, Wo, p, total), grid(ctx, v ? total / 4 : total), `maxPool2d ${fmtShape(x.shape)}`);
  return { y, argmax };
}

/** dx: each input gets the dy of every output whose argmax it is. `p` defaults to the forward's. */
export function maxPool2dBackward(ctx: GpuContext, dy: Raw, argmax: Raw, xShape: Shape, p?: PoolParams): Storage {
  need32('maxPool2dBackward', dy, ['f32']);
  const pp = p ?? poolOf.get(argmax.storage);
  if (!pp) {
    throw new BackendError('maxPool2dBackward: this argmax did not come from the webgpu maxPool2d, so its window ' +
      `geometry is unknown (dy ${fmtShape(dy.shape)}, x ${fmtShape(xShape)})`);
  }
  const [, Ho, Wo] = dy.shape;
  const total = numel(xShape);
  const dx = ctx.alloc(4 * total);
  if (total === 0) return dx;
  const v = xShape[3] % 4 === 0;
  ctx.dispatch(ctx.pipeline({ file: 'pool_max.wgsl', entryPoint: v ? 'backward4' : 'backward' }), [gpu(dy), gpu(argmax), dx].map(v ? asVec4 : (s) => s),
    uniforms(xShape, Ho, Wo, pp, total), grid(ctx, v ? total / 4 : total), `maxPool2d backward ${fmtShape(xShape)}`);
  return dx;
}
