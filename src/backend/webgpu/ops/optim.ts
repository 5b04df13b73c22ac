// EMA and the fused optimiser step over flat buffers (kernels/optim.wgsl); rules as the CPU's
// backend/cpu/optim.ts. Segments (i32 [S, 3]: offset, size, adapt) must be sorted by offset.
import type { OptimizerHyper, OptimizerKind, Raw } from '../../backend.js';
import { numel } from '../../../runtime/shape.js';
import type { GpuContext } from '../context.js';
import { params } from '../params.js';
import { gpu, grid, need32 } from './util.js';
import { dummy, isSoftwareDevice } from './gemm.js';

export function emaUpdate(ctx: GpuContext, target: Raw, source: Raw, tau: Raw): void {
  need32('emaUpdate', target, ['f32']);
  need32('emaUpdate tau', tau, ['f32']);
  const n = numel(target.shape);
  if (n === 0) return;
  ctx.dispatch(ctx.pipeline({ file: 'optim.wgsl', entryPoint: 'ema' }), [gpu(target), gpu(source), gpu(tau)],
    params().u32(n).bytes(), grid(ctx, n), 'emaUpdate');
}

const KIND: Record<OptimizerKind, number> = { sgd: 0, lars: 1, adamw: 2 };
/** Parts per segment for the LARS norms on GPUs: the largest ResNet-50 tensor (2.4M) in 74k-element parts. */
const LARS_SPLIT = 32;

export function optimizerStep(ctx: GpuContext, kind: OptimizerKind, param: Raw, grad: Raw, state1: Raw, state2: Raw | null,
  segments: Raw, hyper: Raw, h: OptimizerHyper): void {
  need32('optimizerStep', param, ['f32']);
  need32('optimizerStep segments', segments, ['i32']);
  need32('optimizerStep hyper', hyper, ['f32']);
  const n = numel(param.shape);
  const S = segments.shape[0] ?? 0;
  if (n === 0 || S === 0) return;
  // LARS norms: each segment in SPLIT parts (GPUs; a 2.4M-element tensor was one workgroup's
  // serial walk), then one thread per segment adds its parts. SGD / AdamW need no norms: their
  // scales come from seg_scale alone, which then reads no parts.
  const lars = kind === 'lars';
  const split = lars && !isSoftwareDevice(ctx) ? LARS_SPLIT : 1;
  const block = params().u32(n, S, h.clipLr ? 1 : 0, KIND[kind])
    .f32(h.weightDecay, h.momentum, h.eta, h.eps, h.beta1, h.beta2).u32(split, 0).bytes();
  const parts = lars ? ctx.alloc(8 * S * split) : dummy(ctx);
  if (lars) {
    ctx.dispatch(ctx.pipeline({ file: 'optim.wgsl', entryPoint: 'seg_partial' }),
      [gpu(param), gpu(grad), gpu(segments), parts], block, [S, split], `optimizerStep ${kind} segment norms`);
  }
  const scales = ctx.alloc(8 * S);
  ctx.dispatch(ctx.pipeline({ file: 'optim.wgsl', entryPoint: 'seg_scale' }),
    [gpu(segments), parts, scales, gpu(hyper)], block, [Math.ceil(S / 64)], `optimizerStep ${kind} segment scales`);
  if (lars) ctx.release(parts);
  // The kernel binds a second-moment buffer in every mode; SGD/LARS get a scratch word.
  const v = state2 ? gpu(state2) : ctx.alloc(4);
  ctx.dispatch(ctx.pipeline({ file: 'optim.wgsl', entryPoint: 'opt_update' }),
    [gpu(param), gpu(grad), gpu(state1), v, gpu(segments), scales, gpu(hyper)], block, grid(ctx, n), `optimizerStep ${kind}`);
  ctx.release(scales);
  if (!state2) ctx.release(v);
}
