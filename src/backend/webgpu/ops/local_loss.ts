// CO-SSL's fused local cosine loss (kernels/local_loss.wgsl, local_loss_sum.wgsl): forward in two dispatches (per-row
// statistics, per-sample sum), backward in three (statistics, local gradient, global gradient).
import type { Raw, Storage } from '../../backend.js';
import { fmtShape } from '../../../runtime/errors.js';
import type { GpuContext, GpuStorage } from '../context.js';
import { params } from '../params.js';
import { alloc, gpu, grid, need32 } from './util.js';

function dims(pl: Raw) { return { B: pl.shape[0], P: pl.shape[1], D: pl.shape[2] }; }

function rowStats(ctx: GpuContext, pl: Raw, zg: Raw, p: Raw, zl: Raw): GpuStorage {
  for (const [n, t] of [['pl', pl], ['zg', zg], ['p', p], ['zl', zl]] as const) need32(`localCosine ${n}`, t, ['f32']);
  const { B, P, D } = dims(pl);
  const stats = alloc(ctx, B * P * 6, 'f32');
  ctx.dispatch(ctx.pipeline({ file: 'local_loss.wgsl', entryPoint: 'stats' }), [gpu(pl), gpu(zg), gpu(p), gpu(zl), stats],
    params().u32(B, P, D, 0).bytes(), grid(ctx, B * P, 1), `localCosine stats ${fmtShape(pl.shape)}`);
  return stats;
}

export function localCosine(ctx: GpuContext, pl: Raw, zg: Raw, p: Raw, zl: Raw): Storage {
  const { B, P, D } = dims(pl);
  const stats = rowStats(ctx, pl, zg, p, zl);
  const loss = alloc(ctx, B, 'f32');
  ctx.dispatch(ctx.pipeline({ file: 'local_loss_sum.wgsl', entryPoint: 'main' }), [stats, loss],
    params().u32(B, P, D, 0).bytes(), [Math.ceil(B / 64)], 'localCosine loss');
  ctx.release(stats);
  return loss;
}

export function localCosineBackward(ctx: GpuContext, pl: Raw, zg: Raw, p: Raw, zl: Raw, dLoss: Raw): { dpl: Storage; dp: Storage } {
  const { B, P, D } = dims(pl);
  const stats = rowStats(ctx, pl, zg, p, zl);
  const dpl = alloc(ctx, B * P * D, 'f32'), dp = alloc(ctx, B * D, 'f32');
  const u = params().u32(B, P, D, 0).bytes();
  ctx.dispatch(ctx.pipeline({ file: 'local_loss.wgsl', entryPoint: 'grad_local' }), [gpu(pl), gpu(zg), stats, gpu(dLoss), dpl],
    u, grid(ctx, B * P * D), 'localCosine grad_local');
  ctx.dispatch(ctx.pipeline({ file: 'local_loss.wgsl', entryPoint: 'grad_global' }), [gpu(p), gpu(zl), stats, gpu(dLoss), dp],
    params().u32(B, P, D, 0).bytes(), grid(ctx, B * D), 'localCosine grad_global');
  ctx.release(stats);
  return { dpl, dp };
}
