// Batch norm over x viewed as [M, C] (channels last): statistics as a two-level reduction
// (per-chunk partial sums, then a per-channel pass; no atomics), normalisation as one
// elementwise pass (with an optional fused residual add and ReLU), and the backward as one reduction
// (Σdy, Σdy·x̂) plus one elementwise pass.
import type { BatchNormRunning, GradInto, InputNorm, NormalizeEpilogue, Raw, Storage } from '../../backend.js';
import { BackendError, fmtShape } from '../../../runtime/errors.js';
import type { GpuContext, GpuStorage } from '../context.js';
import { params } from '../params.js';
import { gpu, grid, need32 } from './util.js';
import { numel } from '../../../runtime/shape.js';
import { runningSlots } from './norm_running.js';
import { unaryGrad } from './elementwise.js';
import { asVec4, COLUMN_STATS, dummy, isSoftwareDevice, releaseTemp } from './gemm.js';

function dims(op: string, x: Raw): [number, number] {
  need32(op, x, ['f32']);
  if (x.shape.length !== 2) throw new BackendError(`${op}: expected x viewed as [M, C], got ${fmtShape(x.shape)}`);
  return [x.shape[0], x.shape[1]];
}

/**
 * Level 1: per-chunk sums into a temporary part[G·chunks][2][C], x being G groups of M rows.
 * Chunks are sized so the grid fills a GPU (on lavapipe, a few workgroups in total). The pass
 * streams x with one 16-byte load in flight per thread, so what it can move is bounded by the
 * threads resident at once (Little's law): 8 workgroups of 256 per SM (a full H100/H200 SM)
 * keep ~32 KB in flight per SM, twice what the earlier 4 did, which was about what HBM3 needs
 * at its latency. Finalisation walks the chunks with 16 lanes, so more of them cost little.
 */
function partialSums(ctx: GpuContext, M: number, C: number, G: number, backward: boolean, bufs: GpuStorage[],
  relu: { y: GpuStorage; gm: GpuStorage; fromX?: boolean } | null = null): { part: GpuStorage; chunks: number } {
  const gx = Math.ceil(C / 64);
  const target = isSoftwareDevice(ctx) ? 4 : 1056; // ≈ 8 workgroups per SM on a 132-SM GPU
  const want = Math.max(1, Math.min(Math.ceil(target / gx / G), Math.ceil(M / 64), Math.floor(ctx.limits.maxComputeWorkgroupsPerDimension / G)));
  const rowsPerChunk = Math.ceil(M / want);
  const chunks = Math.ceil(M / rowsPerChunk);
  const part = ctx.alloc(4 * G * chunks * 2 * C);
  const [x, dy, mean, invstd] = bufs;
  if (relu && C % 4 !== 0) throw new BackendError(`batchnorm partial sums: the fused ReLU mask needs C % 4 == 0 (C = ${C})`);
  const gm = relu?.gm ?? ctx.alloc(16); // written only with the ReLU mask (a writable binding may not alias the dummy)
  ctx.dispatch(ctx.pipeline({ file: 'batchnorm_partial.wgsl', constants: { BACKWARD: +backward, VEC: +(C % 4 === 0), RELU_MASK: +!!relu, RELU_FROM_X: +!!relu?.fromX } }),
    [asVec4(x), asVec4(dy), mean, invstd, part, asVec4(relu?.y ?? dummy(ctx)), asVec4(gm)], params().u32(M, C, rowsPerChunk, chunks).bytes(), [gx, G * chunks],
    `batchnorm ${backward ? `backward${relu ? '+relu mask' : ''}` : 'moments'} partial [${G > 1 ? `${G}×` : ''}${M}, ${C}]`);
  if (!relu) ctx.release(gm);
  return { part, chunks };
}

/**
 * Level 2's workgroup: CH channels × LANES lanes that share out the chunks. GPUs: 16 × 16, so no
 * thread walks all the chunks (up to 1,056) alone; CPU implementations: 64 × 1, no barriers.
 */
function finalizeShape(ctx: GpuContext): { CH: number; LANES: number } {
  return isSoftwareDevice(ctx) ? { CH: 64, LANES: 1 } : { CH: 16, LANES: 16 };
}

/**
 * The finalisation's workgroup for the GEMM epilogue's chunks (one per row tile: thousands on a
 * large map, e.g. 6,272 per view for a 224 px ResNet stem, where partialSums makes at most
 * ~1,056): on GPUs more lanes per channel as the chunks grow, so no lane merges more than ~50
 * in sequence, and more workgroups over the channels (256 threads each); CPU implementations as
 * finalizeShape.
 */
function chanShape(ctx: GpuContext, chunks: number): { CH: number; LANES: number } {
  if (isSoftwareDevice(ctx)) return finalizeShape(ctx);
  const LANES = chunks > 2048 ? 128 : chunks > 512 ? 64 : 16;
  return { CH: 256 / LANES, LANES };
}

/** Level 2: adds the chunks per channel, group by group. */
function finalize(ctx: GpuContext, M: number, C: number, G: number, backward: boolean, x: GpuStorage, part: GpuStorage, chunks: number,
  totalsInto: [GpuStorage | null, GpuStorage | null] = [null, null]): [GpuStorage, GpuStorage, GpuStorage, GpuStorage] {
  const out0 = ctx.alloc(4 * G * C), out1 = ctx.alloc(4 * G * C);
  // The totals over groups (backward only, into gradient sinks when given; the moments variant
  // gets scratch it never writes).
  const out2 = totalsInto[0] ?? ctx.alloc(backward ? 4 * C : 16), out3 = totalsInto[1] ?? ctx.alloc(backward ? 4 * C : 16);
  const shape = finalizeShape(ctx);
  ctx.dispatch(ctx.pipeline({ file: 'batchnorm_finalize.wgsl', constants: { BACKWARD: +backward, ...shape } }),
    [x, part, out0, out1, out2, out3], params().u32(M, C, chunks, G).f32(0, 0, 0).u32(0).bytes(), [Math.ceil(C / shape.CH)],
    `batchnorm ${backward ? 'backward' : 'moments'} finalize [${G > 1 ? `${G}×` : ''}${C}]`);
  releaseTemp(ctx, part);
  return [out0, out1, out2, out3];
}

/** The number of row groups G of statistics [G, C] (or [C]: one group) for x [rows, C]. */
function groupsOf(op: string, rows: number, C: number, stats: Raw): number {
  const G = numel(stats.shape) / C;
  if (!Number.isInteger(G) || G < 1 || rows % G !== 0) {
    throw new BackendError(`${op}: statistics ${fmtShape(stats.shape)} are not [G, ${C}] with G dividing the ${rows} rows`);
  }
  return G;
}

/**
 * The elementwise passes over [M, C] (apply, backward dx): four channels at a time with every
 * binding viewed as vec4 when C % 4 == 0 (entry point main_vec4), else one. Each thread strides
 * over the elements by `threads`, a multiple of the row length, so it keeps one channel (and its
 * per-channel terms) throughout: enough threads to fill a GPU (2^18), a few on CPU
 * implementations.
 */
function channelPass(ctx: GpuContext, C: number, total: number): { entryPoint: string; bind: (s: GpuStorage) => GpuStorage; threads: number } {
  const vec = C % 4 === 0;
  const row = vec ? C / 4 : C, items = vec ? total / 4 : total;
  const target = isSoftwareDevice(ctx) ? 4096 : 1 << 18;
  const threads = row * Math.max(1, Math.floor(Math.min(items, target) / row));
  return vec ? { entryPoint: 'main_vec4', bind: asVec4, threads } : { entryPoint: 'main', bind: (s) => s, threads };
}

/** Mean and biased variance over M, each [C]. */
export function moments(ctx: GpuContext, x: Raw): { mean: Storage; variance: Storage } {
  const [M, C] = dims('moments', x);
  if (M === 0) throw new BackendError(`moments: no rows to average (x ${fmtShape(x.shape)})`);
  const d = dummy(ctx);
  const { part, chunks } = partialSums(ctx, M, C, 1, false, [gpu(x), d, d, d]);
  const [mean, variance, s2, s3] = finalize(ctx, M, C, 1, false, gpu(x), part, chunks);
  ctx.release(s2); ctx.release(s3);
  return { mean, variance };
}

/**
 * Training-mode batch statistics of x [G·M, C] in G groups of rows, in two dispatches: the
 * partial sums, then one pass per channel that makes the means and invstd = 1/√(var + eps),
 * [G, C], and (with `running`) updates the running statistics once per group and the batch
 * counter in place.
 */
export function batchStatistics(ctx: GpuContext, x: Raw, eps: number, running: BatchNormRunning | null, groups = 1):
  { mean: Storage; invstd: Storage } {
  const [rows, C] = dims('batchStatistics', x);
  const G = groups;
  if (rows === 0 || !Number.isInteger(G) || G < 1 || rows % G !== 0) {
    throw new BackendError(`batchStatistics: ${fmtShape(x.shape)} cannot be split into ${G} non-empty groups of rows`);
  }
  const M = rows / G;
  const d = dummy(ctx);
  // Statistics the GEMM that made x computed as it stored it (conv2d's columnStats), when its
  // row tiles do not straddle the groups; else the partial-sums pass over x.
  const fused = ctx.takeSidecar(gpu(x), COLUMN_STATS);
  const usable = !!fused && fused.info.C === C && fused.info.M === rows && (G === 1 || M % fused.info.rows === 0);
  if (fused && !usable) ctx.release(fused.storage);
  const chunkRows = usable ? fused!.info.rows : 0;
  const { part, chunks } = usable ? { part: fused!.storage, chunks: Math.ceil(M / chunkRows) } : partialSums(ctx, M, C, G, false, [gpu(x), d, d, d]);
  const mean = ctx.alloc(4 * G * C), invstd = ctx.alloc(4 * G * C);
  const r = runningSlots(ctx, running);
  const unbias = M / Math.max(M - 1, 1); // each group's unbiased variance (running.n is not needed: M is known)
  const shape = usable ? chanShape(ctx, chunks) : finalizeShape(ctx);
  ctx.dispatch(ctx.pipeline({ file: 'batchnorm_finalize.wgsl', entryPoint: 'statistics', constants: { RUNNING: +!!running, CHAN: +usable, ...shape } }),
    [gpu(x), part, mean, invstd, ...r.slots], params().u32(M, C, chunks, G).f32(eps, running?.momentum ?? 0, unbias).u32(chunkRows).bytes(),
    [Math.ceil(C / shape.CH)], `batchnorm statistics${usable ? ' (fused)' : ''} [${G > 1 ? `${G}×` : ''}${M}, ${C}]`);
  releaseTemp(ctx, part);
  r.done();
  return { mean, invstd };
}

/**
 * y = (x − mean_g)·invstd_g·gamma + beta per channel, then + residual and/or ReLU when asked;
 * mean and invstd are [C] or [G, C] for x in G groups of rows.
 */
export function normalize(ctx: GpuContext, x: Raw, mean: Raw, invstd: Raw, gamma: Raw | null, beta: Raw | null,
  epi: NormalizeEpilogue = {}): Storage {
  const [M, C] = dims('normalize', x);
  const G = groupsOf('normalize', M, C, mean);
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
  const constants = { HAS_GAMMA: +!!gamma, HAS_BETA: +!!beta, HAS_RESIDUAL: +!!residual, RELU: +relu, GROUPED: +(G > 1) };
  const pass = channelPass(ctx, C, total);
  ctx.dispatch(ctx.pipeline({ file: 'batchnorm_normalize.wgsl', entryPoint: pass.entryPoint, constants }),
    [gpu(x), gpu(mean), gpu(invstd), gamma ? gpu(gamma) : dummy(ctx), beta ? gpu(beta) : dummy(ctx), residual ? gpu(residual) : dummy(ctx), y].map(pass.bind),
    params().u32(total, C, total / G, pass.threads).bytes(), grid(ctx, pass.threads),
    `batchnorm normalize${residual ? '+add' : ''}${relu ? '+relu' : ''} [${G > 1 ? `${G}×` : ''}${M / G}, ${C}]`);
  return y;
}

/**
 * dx, dgamma = Σdy·x̂, dbeta = Σdy (training-mode statistics; for x in G groups of rows — mean
 * and invstd [G, C] — dx uses each group's sums and dgamma/dbeta add the groups'). With
 * `reluOut` (the output of a fused ReLU) dy is masked where it is 0 inside the reduction pass,
 * which also returns the masked gradient (dyMasked: a residual branch's gradient).
 */
export function batchNormBackward(ctx: GpuContext, x: Raw, dy: Raw, mean: Raw, invstd: Raw, gamma: Raw | null, into: GradInto = {},
  reluOut: Raw | null = null, reluFromInput: { beta: Raw | null } | null = null): { dx: Storage; dgamma: Storage; dbeta: Storage; dyMasked?: Storage } {
  const [rows, C] = dims('batchNormBackward', x);
  if (!reluOut && reluFromInput && C % 4 !== 0) {
    // The ReLU's output was never stored, and the reduction pass masks only 4 channels at a
    // time: the output is remade for the masking pass, then released.
    const y = normalize(ctx, x, mean, invstd, gamma, reluFromInput.beta, { relu: true }) as GpuStorage;
    const r = batchNormBackward(ctx, x, dy, mean, invstd, gamma, into, { storage: y, shape: x.shape, dtype: x.dtype });
    releaseTemp(ctx, y);
    return r;
  }
  need32('batchNormBackward', dy, ['f32']);
  if (rows === 0) throw new BackendError(`batchNormBackward: no rows (x ${fmtShape(x.shape)})`);
  const G = groupsOf('batchNormBackward', rows, C, mean);
  const M = rows / G;
  if (reluOut) need32('batchNormBackward', reluOut, ['f32']);
  // The ReLU mask is applied inside the reduction pass when 4 channels make a 16-byte store;
  // otherwise (C % 4 != 0, small models) by a masking pass first.
  const fused = !!reluOut && C % 4 === 0;
  // Without the output, the reduction pass masks where x normalised is not positive.
  const terms = !reluOut && reluFromInput ? normPack(ctx, { mean, invstd, gamma, beta: reluFromInput.beta, relu: true }, C).pack : null;
  const relu = fused ? { y: gpu(reluOut!), gm: ctx.alloc(4 * rows * C) } : terms ? { y: terms, gm: ctx.alloc(4 * rows * C), fromX: true } : null;
  const masked = reluOut && !fused ? unaryGrad(ctx, 'relu', reluOut, dy) as GpuStorage : null;
  const upstream = masked ?? gpu(dy);
  const { part, chunks } = partialSums(ctx, M, C, G, true, [gpu(x), upstream, gpu(mean), gpu(invstd)], relu);
  if (terms) releaseTemp(ctx, terms);
  const g = relu ? relu.gm : upstream; // the (masked) upstream gradient
  const sink = (s: Storage | null | undefined) => (s && s.bytes === 4 * C ? s as GpuStorage : null);
  const [sdyx, sdy, dgamma, dbeta] = finalize(ctx, M, C, G, true, dummy(ctx), part, chunks, [sink(into.dgamma), sink(into.dbeta)]);
  const total = rows * C;
  const dx = ctx.alloc(4 * total);
  const pass = channelPass(ctx, C, total);
  ctx.dispatch(ctx.pipeline({ file: 'batchnorm_backward.wgsl', entryPoint: pass.entryPoint, constants: { HAS_GAMMA: +!!gamma, GROUPED: +(G > 1) } }),
    [gpu(x), g, gpu(mean), gpu(invstd), gamma ? gpu(gamma) : dummy(ctx), sdyx, sdy, dx].map(pass.bind),
    params().u32(total, C, M, total / G, pass.threads, 0, 0, 0).bytes(), grid(ctx, pass.threads), `batchnorm backward dx [${G > 1 ? `${G}×` : ''}${M}, ${C}]`);
  ctx.release(sdyx); ctx.release(sdy);
  const dyMasked = relu ? relu.gm : masked;
  return dyMasked ? { dx, dgamma, dbeta, dyMasked } : { dx, dgamma, dbeta };
}

/**
 * The terms [G][3][C] (mean, invstd·gamma, beta) with which a kernel applies a batch norm as it
 * reads its input (batchnorm_pack.wgsl): a temporary the caller releases. G = the groups of
 * the statistics.
 */
export function normPack(ctx: GpuContext, n: InputNorm, C: number): { pack: GpuStorage; groups: number } {
  const G = numel(n.mean.shape) / C;
  if (!Number.isInteger(G) || G < 1 || numel(n.invstd.shape) !== G * C) {
    throw new BackendError(`batch-norm terms: statistics ${fmtShape(n.mean.shape)} and ${fmtShape(n.invstd.shape)} are not [G, ${C}]`);
  }
  const pack = ctx.alloc(4 * 3 * G * C);
  ctx.dispatch(ctx.pipeline({ file: 'batchnorm_pack.wgsl', constants: { HAS_GAMMA: +!!n.gamma, HAS_BETA: +!!n.beta } }),
    [gpu(n.mean), gpu(n.invstd), n.gamma ? gpu(n.gamma) : dummy(ctx), n.beta ? gpu(n.beta) : dummy(ctx), pack],
    params().u32(C, G * C, 0, 0).bytes(), [Math.ceil(G * C / 64)], `batchnorm terms [${G > 1 ? `${G}×` : ''}${C}]`);
  return { pack, groups: G };
}
