// Matrix products on the GEMM core (kernels/matmul_core.wgsl + kernels/matmul.wgsl):
// 2-D [M,K]·[K,N] and batched [Bt,M,K]·[Bt,K,N], transposed-operand variants, and fused
// epilogues (bias, residual add, ReLU) that conv2d and future fused ops reuse.
import type { Raw, Storage } from '../../backend.js';
import { BackendError, fmtShape } from '../../../runtime/errors.js';
import type { GpuContext, GpuStorage } from '../context.js';
import { params, type Params } from '../params.js';
import { gpu, need32 } from './util.js';
import { asVec4, attachColumnStats, chooseTile, columnStatsPart, dummy, gemmGrid, gemmKernel, hasEpilogue, isSoftwareDevice, noStats, releaseTemp, splitKLayers, splitKReduce, tileName, validateTile, type GemmPaths, type GemmTile } from './gemm.js';

export interface Epilogue {
  /** Added per output column: [N]. */
  bias?: GpuStorage | null;
  /** Added elementwise: same shape as the output. */
  residual?: GpuStorage | null;
  relu?: boolean;
}

export interface GemmOptions {
  epilogue?: Epilogue;
  /** Force a tile config (benchmark sweeps). */
  tile?: GemmTile;
  /** Force the number of split-K layers of a 2-D product (tests). */
  splitK?: number;
  /** Write C here (batch·M·N floats, e.g. a gradient sink) instead of fresh storage; ignored when the size differs. */
  out?: GpuStorage | null;
  /**
   * The output feeds a training-mode batch norm over this many groups of rows: a 2-D product
   * with no bias, residual or ReLU also makes its columns' per-row-tile statistics and attaches
   * them (COLUMN_STATS), where the tile allows and its row tiles do not straddle the groups.
   */
  columnStats?: number;
  /** Batch-normalise an operand as it is read (a 1×1 convolution's InputNorm). */
  norm?: GemmNorm | null;
}

/**
 * A training-mode batch norm (then ReLU) applied to operand A [M, K] per column k (a 1×1
 * convolution's forward) or B [K, N] per column n (its weight gradient), neither transposed;
 * `pack` holds the terms [G][3][C] (norm.ts normPack), the operand's rows in G equal groups.
 */
export interface GemmNorm { operand: 'a' | 'b'; pack: GpuStorage; groups: number; relu: boolean }

/** Problem description in storage terms (the conv wrappers use it for 1×1 convolutions). */
export interface GemmProblem {
  a: GpuStorage;
  b: GpuStorage;
  batch: number;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
}

/** C = op(A)·op(B) (+ epilogue) into fresh storage of batch·M·N floats. */
export function gemm(ctx: GpuContext, p: GemmProblem, opts: GemmOptions = {}): GpuStorage {
  const { batch, M, N, K, transA, transB } = p;
  const zero = K === 0 && !opts.epilogue;
  // opts.out is used when it has the output's size (a gradient sink; else fresh storage, as the
  // other ops that take one do)
  const out = opts.out && !zero && opts.out.bytes === 4 * batch * M * N ? opts.out : ctx.alloc(4 * batch * M * N, zero);
  if (batch * M * N === 0 || zero) return out;
  const site = matmulSite(p);
  const t = opts.tile ?? chooseTile(ctx, M, N, batch, transA ? 'tn' : transB ? 'nt' : 'nn', site);
  validateTile(ctx, t);
  const ep = opts.epilogue ?? {};
  const stats = columnStatsPart(ctx, t, M, N, batch === 1 && out !== opts.out ? opts.columnStats : 0, ep);
  const norm = checkNorm(p, opts.norm ?? null);
  const splits = batch === 1 && K > 0 && !stats ? (opts.splitK ?? chooseSplitK(ctx, t, M, N, K)) : 1;
  if (splits > 1) return splitKGemm(ctx, p, t, splits, out, ep, site, norm);
  const kernel = gemmKernel('matmul.wgsl', t, matmulPaths(p),
    { TRANS_A: +transA, TRANS_B: +transB, HAS_BIAS: +!!ep.bias, HAS_RESIDUAL: +!!ep.residual, RELU: +!!ep.relu, COL_STATS: +!!stats, ...normConstants(norm) });
  const u = normParams(params().u32(M, N, K, M * K, K * N, M * N, 0), p, norm);
  ctx.dispatch(ctx.pipeline(kernel),
    [asVec4(p.a), asVec4(p.b), ep.bias ?? dummy(ctx), ep.residual ? asVec4(ep.residual) : dummy(ctx), asVec4(out), stats ?? noStats(ctx), norm ? asVec4(norm.pack) : dummy(ctx)],
    u, gemmGrid(ctx, t, M, N, batch), `${site}${stats ? ' +stats' : ''}${norm ? ' +norm' : ''} @${tileName(t)}`, 2 * batch * M * N * K);
  if (stats) attachColumnStats(ctx, out, stats, t, M, N);
  return out;
}

/** The norm option, checked against the product (its operand must be 2-D, untransposed, in whole groups of rows). */
function checkNorm(p: GemmProblem, norm: GemmNorm | null): GemmNorm | null {
  if (!norm) return null;
  const rows = norm.operand === 'a' ? p.M : p.K;
  if (p.batch !== 1 || (norm.operand === 'a' ? p.transA : p.transB) || rows % norm.groups !== 0) {
    throw new BackendError(`matmul: cannot batch-normalise operand ${norm.operand.toUpperCase()} of ${matmulSite(p)} in ${norm.groups} groups of rows`);
  }
  return norm;
}
function normConstants(norm: GemmNorm | null): Record<string, number> {
  return norm ? { NORM_A: +(norm.operand === 'a'), NORM_B: +(norm.operand === 'b'), NORM_RELU: +norm.relu, NORM_GROUPED: +(norm.groups > 1) } : {};
}
/** matmul.wgsl's uniform block from its first seven words: normRows and its reciprocal (mm_udiv) end it. */
function normParams(head: Params, p: GemmProblem, norm: GemmNorm | null): Uint8Array {
  const rows = norm ? (norm.operand === 'a' ? p.M : p.K) / norm.groups : 1;
  return head.u32(rows).f32(1 / rows).u32(0, 0, 0).bytes();
}

/** The product's GEMM site (gemm_tuning.ts): its dispatch label without a split count or suffix. */
function matmulSite({ batch, M, N, K, transA, transB }: GemmProblem): string {
  return `matmul ${batch}×${M}×${N}×${K}${transA ? ' Aᵀ' : ''}${transB ? ' Bᵀ' : ''}`;
}

/** Operand layouts of a matrix product and which of its 4-runs may be read/written as vec4. */
function matmulPaths({ M, N, K, transA, transB }: GemmProblem): GemmPaths {
  return {
    aKContig: !transA, bNContig: !transB,
    // A 4-run starts at a multiple of 4 when the contiguous extent (and so every row and
    // batch stride) is a multiple of 4.
    aVec: (transA ? M : K) % 4 === 0,
    bVec: (transB ? K : N) % 4 === 0,
    cVec: N % 4 === 0,
  };
}

/**
 * Split-K layers for a 2-D product whose output has too few tiles to occupy the device (weight
 * gradients: a small [Cout, Cin] summed over every pixel of the batch; MLP heads' and probes'
 * layers: a few hundred rows by a few thousand inputs). 1 = no split.
 */
function chooseSplitK(ctx: GpuContext, t: GemmTile, M: number, N: number, K: number): number {
  const tiles = Math.ceil(M / t.BM) * Math.ceil(N / t.BN);
  const target = isSoftwareDevice(ctx) ? 8 : 528; // lavapipe: a few per core; GPU: ≈ 4 per SM
  if (tiles >= target || K < 1024) return 1;
  return splitKLayers(ctx, target, tiles, M * N, K);
}

/** The product in `wanted` layers of whole k-slices, summed (with the epilogue) by splitKReduce. */
function splitKGemm(ctx: GpuContext, p: GemmProblem, t: GemmTile, wanted: number, out: GpuStorage, ep: Epilogue, site: string,
  norm: GemmNorm | null): GpuStorage {
  const { M, N, K, transA, transB } = p;
  const chunk = Math.ceil(Math.ceil(K / wanted) / t.BK) * t.BK; // whole k-slices per layer
  const splits = Math.ceil(K / chunk);
  const part = ctx.alloc(4 * splits * M * N);
  const kernel = gemmKernel('matmul.wgsl', t, matmulPaths(p), { TRANS_A: +transA, TRANS_B: +transB, SPLIT_K: 1, ...normConstants(norm) });
  ctx.dispatch(ctx.pipeline(kernel), [asVec4(p.a), asVec4(p.b), dummy(ctx), dummy(ctx), asVec4(part), noStats(ctx), norm ? asVec4(norm.pack) : dummy(ctx)],
    normParams(params().u32(M, N, K, 0, 0, M * N, chunk), p, norm), gemmGrid(ctx, t, M, N, splits),
    `${site} ×${splits} splits${norm ? ' +norm' : ''} @${tileName(t)}`, 2 * M * N * K);
  // The conv weight-gradient reduction with one tap and C = N is a plain sum over the slices.
  splitKReduce(ctx, part, out, M, N, N, 1, splits, `matmul split-K reduce${hasEpilogue(ep) ? ' +epilogue' : ''}`, ep);
  releaseTemp(ctx, part);
  return out;
}

/** Backend.matmul semantics: A [M,K] (or [K,M] when transA), B [K,N] (or [N,K]), optional batch dim. */
export function matmul(ctx: GpuContext, a: Raw, b: Raw, transA: boolean, transB: boolean, opts: GemmOptions = {}): Storage {
  need32('matmul', a, ['f32']);
  need32('matmul', b, ['f32']);
  const r = a.shape.length;
  if (r !== b.shape.length || (r !== 2 && r !== 3)) {
    throw new BackendError(`matmul: operands must both be 2-D or 3-D (a ${fmtShape(a.shape)}, b ${fmtShape(b.shape)})`);
  }
  const batch = r === 3 ? a.shape[0] : 1;
  if (r === 3 && b.shape[0] !== batch) throw new BackendError(`matmul: batch sizes differ (a ${fmtShape(a.shape)}, b ${fmtShape(b.shape)})`);
  const M = transA ? a.shape[r - 1] : a.shape[r - 2];
  const K = transA ? a.shape[r - 2] : a.shape[r - 1];
  const Kb = transB ? b.shape[r - 1] : b.shape[r - 2];
  const N = transB ? b.shape[r - 2] : b.shape[r - 1];
  if (K !== Kb) throw new BackendError(`matmul: inner dimensions differ (a ${fmtShape(a.shape)}, b ${fmtShape(b.shape)}, transA=${transA}, transB=${transB})`);
  return gemm(ctx, { a: gpu(a), b: gpu(b), batch, M, N, K, transA, transB }, opts);
}
