// Batch norm over x viewed as [M, C] (channels last): statistics as a two-level reduction
// (per-chunk partial sums, then a per-channel pass; no atomics), normalisation as one
// elementwise pass (with an optional fused residual add and ReLU), and the backward as one reduction
// (Σdy, Σdy·x̂) plus one elementwise pass.
import type { BatchNormRunning, NormalizeEpilogue, Raw, Storage } from '../../backend.js';
import { BackendError, fmtShape } from '../../../runtime/errors.js';
import type { GpuContext, GpuStorage } from '../context.js';
import { params } from '../params.js';
import { gpu, grid, need32 } from './util.js';
import { asVec4, dummy, isSoftwareDevice, releaseTemp } from './gemm.js';

function dims(op: string, x: Raw): [number, number] {
  need32(op, x, ['f32']);
  if (x.shape.length !== 2) throw new BackendError(`${op}: expected x viewed as [M, C], got ${fmtShape(x.shape)}`);
  return [x.shape[0], x.shape[1]];
}

/**
 * Level 1: per-chunk sums into a temporary part[chunks][2][C]. Chunks are sized so the grid has
 * a few workgroups per SM (on lavapipe, a few in total).
 */
function partialSums(ctx: GpuContext, M: number, C: number, backward: boolean, bufs: GpuStorage[]): { part: GpuStorage; chunks: number } {
  const gx = Math.ceil(C / 64);
  const target = isSoftwareDevice(ctx) ? 4 : 528;
  const want = Math.max(1, Math.min(Math.ceil(target / gx), Math.ceil(M / 64), ctx.limits.maxComputeWorkgroupsPerDimension));
  const rowsPerChunk = Math.ceil(M / want);
  const chunks = Math.ceil(M / rowsPerChunk);
  const part = ctx.alloc(4 * chunks * 2 * C);
  const [x, dy, mean, invstd] = bufs;
  ctx.dispatch(ctx.pipeline({ file: 'batchnorm_partial.wgsl', constants: { BACKWARD: +backward, VEC: +(C % 4 === 0) } }),
    [asVec4(x), asVec4(dy), mean, invstd, part], params().u32(M, C, rowsPerChunk, 0).bytes(), [gx, chunks],
    `batchnorm ${backward ? 'backward' : 'moments'} partial [${M}, ${C}]`);
  return { part, chunks };
}

/** Level 2: one thread per channel adds the chunks. */
function finalize(ctx: GpuContext, M: number, C: number, backward: boolean, x: GpuStorage, part: GpuStorage, chunks: number): [GpuStorage, GpuStorage] {
  const out0 = ctx.alloc(4 * C), out1 = ctx.alloc(4 * C);
  ctx.dispatch(ctx.pipeline({ file: 'batchnorm_finalize.wgsl', constants: { BACKWARD: +backward } }),
    [x, part, out0, out1], params().u32(M, C, chunks, 0).bytes(), [Math.ceil(C / 64)],
    `batchnorm ${backward ? 'backward' : 'moments'} finalize [${C}]`);
  releaseTemp(ctx, part);
  return [out0, out1];
}

/**
 * The elementwise passes over [M, C] (apply, backward dx): four channels per thread with every
 * binding viewed as vec4 when C % 4 == 0 (entry point main_vec4), else one element per thread.
 */
function channelPass(C: number, total: number): { entryPoint: string; bind: (s: GpuStorage) => GpuStorage; threads: number } {
  return C % 4 === 0
    ? { entryPoint: 'main_vec4', bind: asVec4, threads: total / 4 }
    : { entryPoint: 'main', bind: (s) => s, threads: total };
}

/** Mean and biased variance over M, each [C]. */
export function moments(ctx: GpuContext, x: Raw): { mean: Storage; variance: Storage } {
  const [M, C] = dims('moments', x);
  if (M === 0) throw new BackendError(`moments: no rows to average (x ${fmtShape(x.shape)})`);
  const d = dummy(ctx);
  const { part, chunks } = partialSums(ctx, M, C, false, [gpu(x), d, d, d]);
  const [mean, variance] = finalize(ctx, M, C, false, gpu(x), part, chunks);
  return { mean, variance };
}

/**
 * Training-mode batch statistics in two dispatches: the partial sums, then one pass per channel
 * that makes the mean, invstd = 1/√(var + eps) and (with `running`) updates the running
 * statistics and the batch counter in place.
 */
export function batchStatistics(ctx: GpuContext, x: Raw, eps: number, running: BatchNormRunning | null): { mean: Storage; invstd: Storage } {
  const [M, C] = dims('batchStatistics', x);
  if (M === 0) throw new BackendError(`batchStatistics: no rows to average (x ${fmtShape(x.shape)})`);
  const d = dummy(ctx);
  const { part, chunks } = partialSums(ctx, M, C, false, [gpu(x), d, d, d]);
  const mean = ctx.alloc(4 * C), invstd = ctx.alloc(4 * C);
  // Without running statistics the slots get small scratch buffers (never touched; separate
  // ones, since writable bindings may not alias).
  const scratch: GpuStorage[] = [];
  const orScratch = (r: Raw | null | undefined): GpuStorage => r ? gpu(r) : (scratch.push(ctx.alloc(16)), scratch[scratch.length - 1]);
  const rm = orScratch(running?.mean), rv = orScratch(running?.variance), cnt = orScratch(running?.count);
  const unbias = running ? running.n / Math.max(running.n - 1, 1) : 1;
  ctx.dispatch(ctx.pipeline({ file: 'batchnorm_finalize.wgsl', entryPoint: 'statistics', constants: { RUNNING: +!!running } }),
    [gpu(x), part, mean, invstd, rm, rv, cnt], params().u32(M, C, chunks, 0).f32(eps, running?.momentum ?? 0, unbias).u32(0).bytes(),
    [Math.ceil(C / 64)], `batchnorm statistics [${M}, ${C}]`);
  releaseTemp(ctx, part);
  for (const t of scratch) ctx.release(t);
  return { mean, invstd };
}

/** y = (x − mean)·invstd·gamma + beta per channel, then + residual and/or ReLU when asked. */
export function normalize(ctx: GpuContext, x: Raw, mean: Raw, invstd: Raw, gamma: Raw | null, beta: Raw | null,
  epi: NormalizeEpilogue = {}): Storage {
  const [M, C] = dims('normalize', x);
  const residual = epi.residual ?? null, relu = !!epi.relu;
  if (residual) {
    need32('normalize', residual, ['f32']);
    if (residual.shape.reduce((a, b) => a * b, 1) !== M * C) {
      throw new BackendError(`normalize: residual ${fmtShape(residual.shape)} does not match x ${fmtShape(x.shape)}`);
    }
  }
  const total = M * C;
  const y = ctx.alloc(4 * total);
  if (total === 0) return y;
  const constants = { HAS_GAMMA: +!!gamma, HAS_BETA: +!!beta, HAS_RESIDUAL: +!!residual, RELU: +relu };
  const pass = channelPass(C, total);
  ctx.dispatch(ctx.pipeline({ file: 'batchnorm_normalize.wgsl', entryPoint: pass.entryPoint, constants }),
    [gpu(x), gpu(mean), gpu(invstd), gamma ? gpu(gamma) : dummy(ctx), beta ? gpu(beta) : dummy(ctx), residual ? gpu(residual) : dummy(ctx), y].map(pass.bind),
    params().u32(total, C, 0, 0).bytes(), grid(ctx, pass.threads),
    `batchnorm normalize${residual ? '+add' : ''}${relu ? '+relu' : ''} [${M}, ${C}]`);
  return y;
}

/** dx, dgamma = Σdy·x̂, dbeta = Σdy (training-mode statistics). */
export function batchNormBackward(ctx: GpuContext, x: Raw, dy: Raw, mean: Raw, invstd: Raw, gamma: Raw | null):
  { dx: Storage; dgamma: Storage; dbeta: Storage } {
  const [M, C] = dims('batchNormBackward', x);
  need32('batchNormBackward', dy, ['f32']);
  if (M === 0) throw new BackendError(`batchNormBackward: no rows (x ${fmtShape(x.shape)})`);
  const { part, chunks } = partialSums(ctx, M, C, true, [gpu(x), gpu(dy), gpu(mean), gpu(invstd)]);
  const [dgamma, dbeta] = finalize(ctx, M, C, true, dummy(ctx), part, chunks);
  const total = M * C;
  const dx = ctx.alloc(4 * total);
  const pass = channelPass(C, total);
  ctx.dispatch(ctx.pipeline({ file: 'batchnorm_backward.wgsl', entryPoint: pass.entryPoint, constants: { HAS_GAMMA: +!!gamma } }),
    [gpu(x), gpu(dy), gpu(mean), gpu(invstd), gamma ? gpu(gamma) : dummy(ctx), dgamma, dbeta, dx].map(pass.bind),
    params().u32(total, C, M, 0).bytes(), grid(ctx, pass.threads), `batchnorm backward dx [${M}, ${C}]`);
  return { dx, dgamma, dbeta };
}
