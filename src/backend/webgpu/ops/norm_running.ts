// Batch-norm finalisation (kernels/batchnorm_running.wgsl): invstd and, in training, the in-place
// running-statistics update and batch counter, in one dispatch.
import type { BatchNormRunning, Raw, Storage } from '../../backend.js';
import type { GpuContext, GpuStorage } from '../context.js';
import { params } from '../params.js';
import { gpu, need32 } from './util.js';

export function batchNormFinalize(ctx: GpuContext, mean: Raw, variance: Raw, eps: number, running: BatchNormRunning | null): Storage {
  need32('batchNormFinalize', mean, ['f32']);
  const C = mean.shape[0];
  const invstd = ctx.alloc(4 * C);
  const u = params().u32(C).f32(eps, running?.momentum ?? 0, running ? running.n / Math.max(running.n - 1, 1) : 1).bytes();
  const r = runningSlots(ctx, running);
  ctx.dispatch(ctx.pipeline({ file: 'batchnorm_running.wgsl', constants: { RUNNING: running ? 1 : 0 } }),
    [gpu(mean), gpu(variance), invstd, ...r.slots], u, [Math.ceil(C / 64)], `batchNormFinalize [${C}]`);
  r.done();
  return invstd;
}

/**
 * The running mean, running variance and batch counter bindings of a kernel that updates them
 * in place when training: the given buffers, or for slots the call has none for, small scratch
 * buffers (never touched by that variant; separate ones, since writable bindings may not alias).
 * Call done() once the dispatch is recorded.
 */
export function runningSlots(ctx: GpuContext, running: BatchNormRunning | null): { slots: GpuStorage[]; done(): void } {
  const scratch: GpuStorage[] = [];
  const slot = (r: Raw | null | undefined): GpuStorage => r ? gpu(r) : (scratch.push(ctx.alloc(16)), scratch[scratch.length - 1]);
  const slots = [slot(running?.mean), slot(running?.variance), slot(running?.count)];
  return { slots, done: () => { for (const t of scratch) ctx.release(t); } };
}
