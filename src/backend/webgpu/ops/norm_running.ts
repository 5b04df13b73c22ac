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
  // Slots the call has no buffer for get small scratch buffers (never touched by that variant;
  // separate ones, since writable bindings may not alias).
  const scratch: GpuStorage[] = [];
  const orScratch = (r: Raw | null | undefined): GpuStorage => r ? gpu(r) : (scratch.push(ctx.alloc(16)), scratch[scratch.length - 1]);
  const rm = orScratch(running?.mean), rv = orScratch(running?.variance), cnt = orScratch(running?.count);
  ctx.dispatch(ctx.pipeline({ file: 'batchnorm_running.wgsl', constants: { RUNNING: running ? 1 : 0 } }),
    [gpu(mean), gpu(variance), invstd, rm, rv, cnt], u, [Math.ceil(C / 64)], `batchNormFinalize [${C}]`);
  for (const t of scratch) ctx.release(t);
  return invstd;
}
