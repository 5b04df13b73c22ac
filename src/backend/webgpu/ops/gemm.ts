// The GEMM core's launcher, shared by matmul and the convolutions: tile configurations, the
// prelude that splices kernels/matmul_core.wgsl in front of a hook kernel, and the grid.
//
// Tile sizes are WGSL `const`s (register arrays need creation-time sizes), so each tile config
// is its own pipeline; code paths (operand layout, vec4 alignment, epilogues) are override
// constants. Shapes always travel in the uniform block.
import { BackendError } from '../../../runtime/errors.js';
import { kernelSource } from '../kernel_source.js';
import { params } from '../params.js';
import { grid } from './util.js';
import type { GpuContext, GpuStorage, KernelRef } from '../context.js';
import type { Epilogue } from './matmul.js';
import { setKnownTileNames, tunedTileName } from './gemm_tuning.js';

export interface GemmTile {
  /** Output tile of one workgroup (rows × columns). */
  BM: number;
  BN: number;
  /** Reduction depth staged in workgroup memory per step (shared path only). */
  BK: number;
  /** Register block of one thread; multiples of 4. */
  TM: number;
  TN: number;
  /** Stage operands in workgroup memory (GPUs) or read them directly (lavapipe: no barriers). */
  shared: boolean;
  /** Pad each k-row of the workgroup tiles by one vec4 (fewer bank conflicts on scattered stores). */
  pad?: boolean;
  /** Two workgroup tiles per operand: store slice k+1 while multiplying slice k, one barrier per slice. */
  double?: boolean;
  /**
   * Shared path: the register block as generated variables with straight-line multiply-adds
   * (gemmPrelude) instead of an array and loop nests the driver must unroll (matmul_core.wgsl, GEN).
   */
  gen?: boolean;
  /**
   * Shared path: each 32 consecutive threads (an NVIDIA warp) take an 8×4 block of thread
   * positions instead of two 16-wide thread rows: fewer workgroup-memory wavefronts per k step
   * (matmul_core.wgsl, WARP_TILE). Needs 8 | BN/TN and 4 | BM/TM.
   */
  warp?: boolean;
}

/** Named configurations, selectable from the benchmark's --sweep and COENGINE_GEMM_TILE. */
export const GEMM_TILES: Record<string, GemmTile> = {
  direct32: { BM: 32, BN: 32, BK: 4, TM: 4, TN: 4, shared: false },
  direct64x32: { BM: 64, BN: 32, BK: 4, TM: 8, TN: 4, shared: false },
  // Narrow tiles for the few-channel layers of small models (a 32×32 tile over a 4-channel
  // output computes 8× more than it keeps).
  direct128x8: { BM: 128, BN: 8, BK: 4, TM: 8, TN: 4, shared: false },
  direct8x128: { BM: 8, BN: 128, BK: 4, TM: 4, TN: 8, shared: false },
  direct64x16: { BM: 64, BN: 16, BK: 4, TM: 4, TN: 4, shared: false },
  direct16x64: { BM: 16, BN: 64, BK: 4, TM: 4, TN: 4, shared: false },
  // Tiny outputs (weight gradients of few-channel layers, split over K).
  direct16x16: { BM: 16, BN: 16, BK: 4, TM: 4, TN: 4, shared: false },
  direct8x8: { BM: 8, BN: 8, BK: 4, TM: 4, TN: 4, shared: false },
  shared32: { BM: 32, BN: 32, BK: 8, TM: 4, TN: 4, shared: true },
  shared32p: { BM: 32, BN: 32, BK: 8, TM: 4, TN: 4, shared: true, pad: true },
  shared64: { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4, shared: true },
  shared64bk32: { BM: 64, BN: 64, BK: 32, TM: 4, TN: 4, shared: true },
  shared64bk8: { BM: 64, BN: 64, BK: 8, TM: 4, TN: 4, shared: true },
  shared64x128: { BM: 64, BN: 128, BK: 16, TM: 4, TN: 8, shared: true },
  shared128t4: { BM: 128, BN: 128, BK: 8, TM: 4, TN: 4, shared: true },
  shared64p: { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4, shared: true, pad: true },
  shared128p: { BM: 128, BN: 128, BK: 16, TM: 8, TN: 8, shared: true, pad: true },
  shared128bk8p: { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8, shared: true, pad: true },
  // Double-buffered workgroup tiles (H100, GEMM 4096³: 30.2–31.6 TFLOP/s against 32.1 single).
  shared128bk8pd: { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8, shared: true, pad: true, double: true },
  shared128bk16pd: { BM: 128, BN: 128, BK: 16, TM: 8, TN: 8, shared: true, pad: true, double: true },
  shared64pd: { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4, shared: true, pad: true, double: true },
  shared32pd: { BM: 32, BN: 32, BK: 8, TM: 4, TN: 4, shared: true, pad: true, double: true },
  shared128x64: { BM: 128, BN: 64, BK: 16, TM: 8, TN: 4, shared: true },
  shared128: { BM: 128, BN: 128, BK: 16, TM: 8, TN: 8, shared: true },
  shared128bk8: { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8, shared: true },
  shared128bk32: { BM: 128, BN: 128, BK: 32, TM: 8, TN: 8, shared: true },
  // 128 outputs per thread. H100, GEMM 4096³: 19.1 and 2.0 TFLOP/s (register blocks past 8×8
  // lose to the driver: 8×12, 12×8, 8×16 at 18–20, any 16-row block at 2; bench/RESULTS.md,
  // eleventh session). Kept as the column statistics' test of a 4-group-wide thread block.
  shared128x256: { BM: 128, BN: 256, BK: 8, TM: 8, TN: 16, shared: true },
  shared256x128: { BM: 256, BN: 128, BK: 8, TM: 16, TN: 8, shared: true },
  // Generated register blocks (gen): not yet timed on a GPU, candidates for the next sweep
  // (shared32pg: the small one CI's lavapipe checks).
  shared32pg: { BM: 32, BN: 32, BK: 8, TM: 4, TN: 4, shared: true, pad: true, gen: true },
  shared128bk8pg: { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8, shared: true, pad: true, gen: true },
  shared128t8x16pg: { BM: 128, BN: 128, BK: 8, TM: 8, TN: 16, shared: true, pad: true, gen: true },
  shared128x256pg: { BM: 128, BN: 256, BK: 8, TM: 8, TN: 16, shared: true, pad: true, gen: true },
  shared64x128g: { BM: 64, BN: 128, BK: 16, TM: 4, TN: 8, shared: true, gen: true },
  shared128x64g: { BM: 128, BN: 64, BK: 16, TM: 8, TN: 4, shared: true, gen: true },
  // Warp-blocked thread layout (warp): not yet timed on a GPU, candidates for the next sweep
  // (shared16x64pw: the small one CI's lavapipe checks; 16 threads across, so its warps differ
  // from its thread rows, which with 8 across they would not).
  shared16x64pw: { BM: 16, BN: 64, BK: 8, TM: 4, TN: 4, shared: true, pad: true, warp: true },
  shared128bk8pw: { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8, shared: true, pad: true, warp: true },
  shared128bk8pgw: { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8, shared: true, pad: true, gen: true, warp: true },
  shared128pw: { BM: 128, BN: 128, BK: 16, TM: 8, TN: 8, shared: true, pad: true, warp: true },
  shared64x128w: { BM: 64, BN: 128, BK: 16, TM: 4, TN: 8, shared: true, warp: true },
  shared128x64w: { BM: 128, BN: 64, BK: 16, TM: 8, TN: 4, shared: true, warp: true },
  shared64pw: { BM: 64, BN: 64, BK: 16, TM: 4, TN: 4, shared: true, pad: true, warp: true },
  // Candidate for the 7×7 stem's weight gradient (64 × 147): one workgroup covers every column, so
  // dy is read once per pixel chunk instead of three times. Under 52- and 40-wide tiles it took as
  // long as under 64-wide ones or longer (bench/RESULTS.md, eleventh session): its time did not
  // follow the columns computed.
  shared64x192p: { BM: 64, BN: 192, BK: 16, TM: 4, TN: 12, shared: true, pad: true },
};

setKnownTileNames(Object.keys(GEMM_TILES));

let forcedTile: string | null = process.env.COENGINE_GEMM_TILE ?? null;

/** The tile COENGINE_GEMM_TILE or setGemmTile forces on every GEMM, or null (the heuristic's choice). */
export function forcedGemmTile(): string | null { return forcedTile; }

/** Whether the forced tile came from COENGINE_GEMM_TILE (an A/B run: told when a GEMM cannot take it). */
let forcedByEnv = forcedTile !== null;
let warnedUnfit = false;

/** Force one tile config for every GEMM (benchmark sweeps); null restores the heuristic. */
export function setGemmTile(name: string | null): void {
  if (name !== null && !GEMM_TILES[name]) throw new BackendError(`unknown GEMM tile config '${name}' (known: ${Object.keys(GEMM_TILES).join(', ')})`);
  forcedTile = name;
  forcedByEnv = false;
}

/** True on CPU implementations of WebGPU (lavapipe, SwiftShader), where barriers are costly. */
export function isSoftwareDevice(ctx: GpuContext): boolean {
  // Asked by several kernels per dispatch: decided once per device.
  let soft = softwareDevices.get(ctx.device);
  if (soft === undefined) {
    const info = (ctx.device as GPUDevice & { adapterInfo?: GPUAdapterInfo & { isFallbackAdapter?: boolean } }).adapterInfo;
    soft = !!info && (Boolean(info.isFallbackAdapter) || info.architecture === 'software' ||
      /llvmpipe|lavapipe|swiftshader/i.test(`${info.description} ${info.device}`));
    softwareDevices.set(ctx.device, soft);
  }
  return soft;
}
const softwareDevices = new WeakMap<GPUDevice, boolean>();

/**
 * Tests only: take (false) or stop taking (true) the real-GPU code paths on this device, so CI's
 * lavapipe exercises routing decisions made for GPUs. null restores detection.
 */
export function overrideSoftwareDevice(ctx: GpuContext, software: boolean | null): void {
  if (software === null) softwareDevices.delete(ctx.device);
  else softwareDevices.set(ctx.device, software);
}

/** Whether a tile can take the warp-blocked layout: 8-wide, 4-deep blocks of its thread grid (shared path). */
function warpFits(t: GemmTile): boolean {
  return t.shared && (t.BN / t.TN) % 8 === 0 && (t.BM / t.TM) % 4 === 0;
}

export function validateTile(ctx: GpuContext, t: GemmTile, name = 'tile'): void {
  const bad = (why: string) => new BackendError(`GEMM ${name} ${JSON.stringify(t)}: ${why}`);
  if (t.TM % 4 || t.TN % 4) throw bad('TM and TN must be multiples of 4');
  if (t.BM % t.TM || t.BN % t.TN) throw bad('BM/BN must be multiples of TM/TN');
  if (t.BK % 4) throw bad('BK must be a multiple of 4');
  if (t.gen && !t.shared) throw bad('generated register blocks need the shared path');
  if (t.warp && !warpFits(t)) {
    throw bad('a warp-blocked layout needs the shared path, a multiple of 8 threads across and of 4 down');
  }
  const threads = (t.BM / t.TM) * (t.BN / t.TN);
  if (threads > ctx.limits.maxComputeInvocationsPerWorkgroup) throw bad(`${threads} threads per workgroup exceed the device limit`);
  if (t.BN / t.TN > ctx.limits.maxComputeWorkgroupSizeX || t.BM / t.TM > ctx.limits.maxComputeWorkgroupSizeY) throw bad('workgroup too wide');
  const smem = operandBytes(t) + STATS_PLACEHOLDER_BYTES;
  if (smem > ctx.limits.maxComputeWorkgroupStorageSize) {
    throw bad(`${smem} bytes of workgroup memory exceed the device's ${ctx.limits.maxComputeWorkgroupStorageSize}`);
  }
}

/** Workgroup memory of a tile config's operand tiles (on the direct path: As and Bs, one vec4 each). */
function operandBytes(t: GemmTile): number {
  return t.shared ? (t.BM + t.BN + (t.pad ? 8 : 0)) * t.BK * 4 * (t.double ? 2 : 1) : 2 * 16;
}

/**
 * The column statistics' arrays with COL_STATS off: one slot each (stMean, stM2: a vec4;
 * stCount: an f32, which Dawn counts as 16 bytes). They count because the kernel uses them
 * statically: without them shared128bk32 passed this check and then failed to compile on a
 * device with 32 KiB (32,816 bytes asked).
 */
const STATS_PLACEHOLDER_BYTES = 48;

// ---- column statistics (COL_STATS in matmul_core.wgsl) ----

/** Sidecar kind of a GEMM output's per-row-tile column statistics (info: rows, chunks, M, C). */
export const COLUMN_STATS = 'column stats';

// Off unless COENGINE_FUSE_BN_STATS=1. On an H100 (BYOL ResNet-50, batch 64, 224 px) the
// epilogue made the fused GEMMs 8-13% slower, about what batch norm's own statistics pass costs:
// steps ran 1 ms slower with it (209.3 vs 208.3 ms; bench/RESULTS.md, tenth session). It stays
// as an option for devices with less memory bandwidth per FLOP, where the pass costs more.
let fuseStats = process.env.COENGINE_FUSE_BN_STATS === '1';

/**
 * Tests and A/B runs (COENGINE_FUSE_BN_STATS=1): whether GEMMs asked for column statistics make
 * them (else batch norm reads its input again). Returns the previous setting.
 */
export function setColumnStatsFusion(on: boolean): boolean {
  const prev = fuseStats;
  fuseStats = on;
  return prev;
}

/**
 * Whether an epilogue changes what the GEMM stores (bias, residual, ReLU): split-K then applies
 * it in the reduce, and no column statistics are made.
 */
export function hasEpilogue(ep: Epilogue): boolean {
  return !!(ep.bias || ep.residual || ep.relu);
}

/**
 * The statistics buffer for a GEMM asked to make column statistics for a batch norm over
 * `groups` groups of its rows ([row tiles][2][N]), or null where it will not: not asked (0),
 * fusion off, an epilogue that changes the stored values, row tiles that would straddle the
 * groups (batch norm could not use them), or a tile whose thread rows are not a power of two or
 * whose workgroup memory would overflow with the tree's.
 */
export function columnStatsPart(ctx: GpuContext, t: GemmTile, M: number, N: number, groups: number | undefined, ep: Epilogue): GpuStorage | null {
  if (!groups || !fuseStats || hasEpilogue(ep) || M === 0 || N === 0 || t.gen) return null;
  if (M % groups !== 0 || (groups > 1 && (M / groups) % t.BM !== 0)) return null;
  const rowsOfThreads = t.BM / t.TM, threads = rowsOfThreads * (t.BN / t.TN);
  if (rowsOfThreads & (rowsOfThreads - 1)) return null;
  // Per slot: mean and M2 (vec4) of each of the thread's TN/4 column groups, and a count.
  const treeBytes = (2 * 16 * (t.TN / 4) + 4) * Math.max(1, rowsOfThreads / 2) * (t.BN / t.TN);
  if (threads > ctx.limits.maxComputeInvocationsPerWorkgroup || operandBytes(t) + treeBytes > ctx.limits.maxComputeWorkgroupStorageSize) return null;
  return ctx.alloc(4 * 2 * Math.ceil(M / t.BM) * N);
}

/** Hand a GEMM's column statistics to its output, for batchStatistics to take. */
export function attachColumnStats(ctx: GpuContext, out: GpuStorage, part: GpuStorage, t: GemmTile, M: number, N: number): void {
  ctx.attachSidecar(out, { kind: COLUMN_STATS, storage: part, info: { rows: t.BM, chunks: Math.ceil(M / t.BM), M, C: N } });
}

const statsDummies = new WeakMap<GpuContext, GpuStorage>();

/** Bound in the statistics slot of GEMMs that make none (a writable binding may not alias dummy()). */
export function noStats(ctx: GpuContext): GpuStorage {
  let d = statsDummies.get(ctx);
  if (!d) { d = ctx.alloc(16, true); statsDummies.set(ctx, d); }
  return d;
}

/**
 * What a GEMM computes, for the tile choice: a convolution's forward, input gradient or weight
 * gradient (the implicit-GEMM kernels), or a matmul by the layout of its operands ('nt': B
 * transposed, as a 1×1 convolution's forward; 'tn': A transposed, as its weight gradient).
 */
export type GemmRole = 'conv' | 'conv-dx' | 'conv-dw' | 'nn' | 'nt' | 'tn';

/**
 * The tile config for an M×N output (×layers) of the given kind (none: no preference measured):
 * COENGINE_GEMM_TILE's if set, else a tuning table's for this site (gemm_tuning.ts), else the
 * heuristic's. `site`: the dispatch label without its split count (e.g. `matmul 1×64×64×401408 Aᵀ`).
 */
export function chooseTile(ctx: GpuContext, M: number, N: number, layers = 1, role?: GemmRole, site?: string): GemmTile {
  // A forced tile whose grid the device cannot launch (e.g. an 8-row tile over RF99-ResNet50's
  // 1.6M-row layers: over 65535 workgroups in y) leaves that GEMM to the choice below.
  if (forcedTile) {
    const t = GEMM_TILES[forcedTile];
    if (!t) throw new BackendError(`COENGINE_GEMM_TILE: unknown GEMM tile config '${forcedTile}' (known: ${Object.keys(GEMM_TILES).join(', ')})`);
    if (fitsGrid(ctx, t, M, N)) return t;
    if (forcedByEnv && !warnedUnfit) {
      warnedUnfit = true; // an A/B run should know it measured a mix
      process.stderr.write(`coengine: COENGINE_GEMM_TILE=${forcedTile} cannot cover a ${M}×${N} GEMM${site ? ` (${site})` : ''} within the device's ` +
        `${ctx.limits.maxComputeWorkgroupsPerDimension} workgroups per dimension; such GEMMs keep the usual tile\n`);
    }
  }
  const tuned = tunedTileName(ctx, site);
  if (tuned) return GEMM_TILES[tuned];
  if (isSoftwareDevice(ctx)) return leastPadded(M, N, SOFTWARE_TILES);
  return variantTwin(chooseGpuTile(M, N, layers, role));
}

/**
 * A/B runs of whole steps: the heuristic's choices with generated register blocks
 * (COENGINE_GEMM_GEN=1, GemmTile.gen) and/or warp-blocked thread layouts (COENGINE_GEMM_WARP=1,
 * GemmTile.warp, where the tile's thread grid allows one), same sizes.
 */
let tileVariants = { gen: process.env.COENGINE_GEMM_GEN === '1', warp: process.env.COENGINE_GEMM_WARP === '1' };

/** Tests: as COENGINE_GEMM_GEN / COENGINE_GEMM_WARP (unnamed ones unchanged). Returns the previous settings. */
export function setTileVariants(v: Partial<typeof tileVariants>): typeof tileVariants {
  const prev = tileVariants;
  tileVariants = { ...prev, ...v };
  return prev;
}

/**
 * A tile config's name for dispatch labels (` @name`, so a profile shows which tile ran each
 * GEMM): its GEMM_TILES key, `<key>/gen`, `<key>/warp` or `<key>/gen+warp` for a twin, else its sizes.
 */
export function tileName(t: GemmTile): string {
  let n = tileNames.get(t);
  if (n === undefined) {
    const key = Object.keys(GEMM_TILES).find((k) => GEMM_TILES[k] === t);
    n = key ?? `${t.BM}x${t.BN}x${t.BK}:${t.TM}x${t.TN}${t.shared ? 's' : 'd'}`; // (twins are named when made)
    tileNames.set(t, n);
  }
  return n;
}
const tileNames = new Map<GemmTile, string>();

/** Twins by tile and variant ('gen', 'warp', 'gen+warp'), with their names for dispatch labels. */
const twins = new Map<GemmTile, Map<string, GemmTile>>();
function variantTwin(t: GemmTile): GemmTile {
  if (!t.shared) return t;
  const gen = tileVariants.gen && !t.gen;
  const warp = tileVariants.warp && !t.warp && warpFits(t);
  if (!gen && !warp) return t;
  const kind = [gen ? 'gen' : '', warp ? 'warp' : ''].filter(Boolean).join('+');
  let byKind = twins.get(t);
  if (!byKind) twins.set(t, (byKind = new Map()));
  let twin = byKind.get(kind);
  if (!twin) {
    byKind.set(kind, (twin = { ...t, ...(gen ? { gen: true } : {}), ...(warp ? { warp: true } : {}) }));
    tileNames.set(twin, `${tileName(t)}/${kind}`);
  }
  return twin;
}

function chooseGpuTile(M: number, N: number, layers: number, role: GemmRole | undefined): GemmTile {
  // Big tiles need enough of them to fill the GPU (~132 SMs on an H100/H200). H200 GEMM 4096³,
  // each config in its own process: shared128bk8(p) 32.5 TFLOP/s, shared64x128 29.4,
  // shared128p 29.0, shared64p 28.3, shared64 27.5, shared128 25.3 (bench kernels --sweep).
  const big = bigTile(M, N, role), small = GEMM_TILES.shared64p;
  // Enough large tiles to fill the GPU, counted as 128×128 tiles; convolution forwards and input
  // gradients count their own (64×128: layer 4's 3×3s, 196 such tiles but 392 of their own, ran
  // 25.3 → 29.6 TFLOP/s forward, 25.4 → 30.4 input gradient, against shared64p); weight
  // gradients fill the GPU with split-K layers however few their tiles.
  const own = role === 'conv' || role === 'conv-dx';
  const tiles = Math.ceil(M / (own ? big.BM : 128)) * Math.ceil(N / (own ? big.BN : 128)) * layers;
  if (tiles < 256 && role !== 'conv-dw') {
    // Few tiles: split-K fills the GPU. For 1×1 weight gradients (tn) with both sides ≥ 256 the
    // 4×8 block beat shared64p on all six of ResNet-50's (e.g. 1024×256×25088: 22.4 → 24.8
    // TFLOP/s; together 11.2 → 10.2 ms a step; with a 128 or 64 side it lost, by up to 2.4×).
    return role === 'tn' && !bigName && M >= 256 && N >= 256 ? GEMM_TILES.shared64x128 : small;
  }
  // A 128-wide tile over a 64-channel output (ResNet stage 1) computes twice what it keeps.
  return paddedWork(M, N, big) > 1.1 * paddedWork(M, N, small) ? small : big;
}

/**
 * The large tile for a product of this kind: COENGINE_GEMM_BIG (a GEMM_TILES name, for A/B runs
 * of whole steps) if set, else by kind and width. H100, every GEMM of a BYOL ResNet-50 step timed
 * under each tile (bench step --profile-shapes, bench/RESULTS.md, eleventh session):
 *  - shared64x128 (4×8 per thread) over shared128bk8p: convolution forwards with ≥ 256 output
 *    channels (layer 3's 3×3: 22.6 → 29.7 TFLOP/s, 13.1 → 10.0 ms a step) and input gradients
 *    with ≥ 128 input channels, and plain products with N ≥ 256 (a 1×1 convolution's input
 *    gradient: 256→64 with its residual add 18.4 → 23.3). Likely because half-height tiles make
 *    twice as many workgroups where the deep layers' few rows leave 128-row tiles short of two
 *    full waves; with 128 output channels the 128×128 tile stays ahead.
 *  - shared128x64 (8×4 per thread): convolution weight gradients with ≥ 128 output channels
 *    (e.g. layer 3's 3×3: 24.7 → 28.1) and B-transposed products with N ≥ 128 (1×1 forwards:
 *    e.g. 29.5 → 32.5).
 *  - shared128bk8p otherwise: the fastest on large square products (GEMM 4096³: 31 against 25
 *    for shared128x64 in the same run). (The A-transposed products of 1×1 weight gradients have
 *    few tiles: chooseGpuTile picks their tile.)
 */
function bigTile(M: number, N: number, role: GemmRole | undefined): GemmTile {
  if (bigName) {
    const t = GEMM_TILES[bigName];
    if (!t || !t.shared) throw new BackendError(`COENGINE_GEMM_BIG: '${bigName}' is not a shared-memory GEMM tile (known: ${Object.keys(GEMM_TILES).filter((k) => GEMM_TILES[k].shared).join(', ')})`);
    return t;
  }
  switch (role) {
    case 'conv': if (N >= 256) return GEMM_TILES.shared64x128; break;
    case 'conv-dx': if (N >= 128) return GEMM_TILES.shared64x128; break;
    case 'nn': if (N >= 256) return GEMM_TILES.shared64x128; break;
    case 'conv-dw': if (M >= 128) return GEMM_TILES.shared128x64; break;
    case 'nt': if (N >= 128) return GEMM_TILES.shared128x64; break;
    default: break;
  }
  return GEMM_TILES.shared128bk8p;
}
let bigName: string | null = process.env.COENGINE_GEMM_BIG || null;

/** Tests: as COENGINE_GEMM_BIG (null: the default large tile). Returns the previous setting. */
export function setGemmBigTile(name: string | null): string | null {
  const prev = bigName;
  bigName = name;
  return prev;
}

/** Multiply-adds a tile config performs for an M×N output, padding included. */
function paddedWork(M: number, N: number, t: GemmTile): number {
  return Math.ceil(M / t.BM) * t.BM * Math.ceil(N / t.BN) * t.BN;
}

/** Barrier-free tiles for CPU implementations of WebGPU. */
export const SOFTWARE_TILES = ['direct32', 'direct128x8', 'direct8x128', 'direct64x16', 'direct16x64', 'direct16x16', 'direct8x8'];

/** The tile whose padding wastes the least work on an M×N output (ties: the earlier one). */
function leastPadded(M: number, N: number, names: string[]): GemmTile {
  let best = GEMM_TILES[names[0]], bestCost = Infinity;
  for (const n of names) {
    const t = GEMM_TILES[n];
    const cost = paddedWork(M, N, t);
    if (cost < bestCost * 0.95) { best = t; bestCost = cost; }
  }
  return best;
}

// ---- kernel text ----

/** A tile's prelude and where the GEMM core starts in it (compile errors there name the core's lines). */
interface GemmPrelude { text: string; source: { file: string; firstLine: number } }
const preludes = new Map<string, GemmPrelude>();

/**
 * Tile constants + the GEMM core, to be prepended to a hook kernel. Memoised per tile: the same
 * string object each time, so the pipeline cache's lookup of it is cheap.
 */
function gemmPrelude(t: GemmTile): GemmPrelude {
  const key = `${t.BM},${t.BN},${t.BK},${t.TM},${t.TN},${t.shared},${t.pad ?? false},${t.double ?? false},${t.gen ?? false},${t.warp ?? false}`;
  let p = preludes.get(key);
  if (p === undefined) {
    const head = preludeHead(t);
    p = { text: head + kernelSource('matmul_core.wgsl'), source: { file: 'matmul_core.wgsl', firstLine: head.split('\n').length } };
    preludes.set(key, p);
  }
  return p;
}

/** The tile constants and generated code that come before the core in a GEMM prelude. */
function preludeHead(t: GemmTile): string {
  return `const BM: u32 = ${t.BM}u;\nconst BN: u32 = ${t.BN}u;\nconst BK: u32 = ${t.BK}u;\n` +
    `const TM: u32 = ${t.TM}u;\nconst TN: u32 = ${t.TN}u;\nconst USE_SHARED: bool = ${t.shared};\n` +
    `const SMEM_PAD: u32 = ${t.pad ? 1 : 0}u;\nconst STAGES: u32 = ${t.double ? 2 : 1}u;\n` +
    `const GEN: bool = ${!!t.gen};\nconst WARP_TILE: bool = ${!!t.warp};\n` + generatedBlock(t);
}

/**
 * GEN tiles: the thread's TM×TN block as variables acc_<r>_<i>_<c> (row group r, row i, column
 * group c: the same layout as the core's acc[(r·4 + i)·CN + c]), one k-slice's multiply-adds and
 * the epilogue's writes written out in full. Other tiles: empty stubs (the core calls them only
 * when GEN). Why: on an H100 the array form ran 8×8 blocks at 31 TFLOP/s but 8×12 and 8×16 at
 * 18–20 and 16-row blocks at 2 (bench/RESULTS.md, eleventh session), likely the driver spilling
 * or not unrolling, not the hardware (cuBLAS's f32 kernels use 8×16 blocks, at 52).
 */
function generatedBlock(t: GemmTile): string {
  if (!t.gen) {
    return 'fn mm_multiplyGen(tx: u32, ty: u32, stage: u32) {}\n' +
      'fn mm_writeGen(z: u32, tileM: u32, tileN: u32, tx: u32, ty: u32, M: u32, N: u32) {}\n';
  }
  const RM = t.TM / 4, CN = t.TN / 4, wgX = t.BN / t.TN, wgY = t.BM / t.TM;
  const acc = (r: number, i: number, c: number) => `acc_${r}_${i}_${c}`;
  const out: string[] = [];
  for (let r = 0; r < RM; r++) for (let i = 0; i < 4; i++) for (let c = 0; c < CN; c++) out.push(`var<private> ${acc(r, i, c)}: vec4<f32>;`);
  out.push('fn mm_multiplyGen(tx: u32, ty: u32, stage: u32) {');
  for (let kk = 0; kk < t.BK; kk++) {
    for (let r = 0; r < RM; r++) out.push(`  let a${kk}_${r} = As[stage][${kk}][${r * wgY}u + ty];`);
    for (let c = 0; c < CN; c++) out.push(`  let b${kk}_${c} = Bs[stage][${kk}][${c * wgX}u + tx];`);
    for (let r = 0; r < RM; r++) {
      for (let i = 0; i < 4; i++) {
        for (let c = 0; c < CN; c++) out.push(`  ${acc(r, i, c)} = fma(vec4<f32>(a${kk}_${r}[${i}]), b${kk}_${c}, ${acc(r, i, c)});`);
      }
    }
  }
  out.push('}');
  // Rows tileM + r·ROW_STRIDE + 4·ty + i, columns tileN + c·COL_STRIDE + 4·tx (+0..3), as the core's loop.
  out.push('fn mm_writeGen(z: u32, tileM: u32, tileN: u32, tx: u32, ty: u32, M: u32, N: u32) {');
  for (let r = 0; r < RM; r++) {
    for (let i = 0; i < 4; i++) {
      out.push(`  { let m = tileM + ${r * 4 * wgY + i}u + 4u * ty; if (m < M) {`);
      for (let c = 0; c < CN; c++) out.push(`    mm_writeOut(z, m, tileN + ${c * 4 * wgX}u + 4u * tx, N, ${acc(r, i, c)});`);
      out.push('  } }');
    }
  }
  out.push('}');
  return out.join('\n') + '\n';
}

/** Layout/alignment switches of the core (override constants). */
export interface GemmPaths {
  aKContig: boolean;
  bNContig: boolean;
  aVec: boolean;
  bVec: boolean;
  cVec: boolean;
}

export function gemmKernel(file: string, t: GemmTile, paths: GemmPaths, extra: Record<string, number> = {}): KernelRef {
  const prelude = gemmPrelude(t);
  return {
    file,
    prelude: prelude.text,
    variant: tileName(t),
    preludeSource: prelude.source,
    constants: {
      A_K_CONTIG: +paths.aKContig, B_N_CONTIG: +paths.bNContig,
      A_VEC: +paths.aVec, B_VEC: +paths.bVec, C_VEC: +paths.cVec, ...extra,
    },
  };
}

/** Whether a tile's grid over an M×N output stays within the device's workgroups per dimension. */
function fitsGrid(ctx: GpuContext, t: GemmTile, M: number, N: number): boolean {
  const max = ctx.limits.maxComputeWorkgroupsPerDimension;
  return Math.ceil(N / t.BN) <= max && Math.ceil(M / t.BM) <= max;
}

/** Workgroups covering an M×N output, `layers` deep (batch or split-K). */
export function gemmGrid(ctx: GpuContext, t: GemmTile, M: number, N: number, layers: number): [number, number, number] {
  const g: [number, number, number] = [Math.ceil(N / t.BN), Math.ceil(M / t.BM), layers];
  const max = ctx.limits.maxComputeWorkgroupsPerDimension;
  if (g.some((d) => d > max)) throw new BackendError(`GEMM ${M}×${N}×${layers} needs a ${g.join('×')} grid, over the device's ${max} per dimension`);
  return g;
}

// ---- split-K ----

/**
 * Split-K layers to make `target` workgroups of a product with `tiles` output tiles (`outputs`
 * values) reducing over K: no layer with fewer than 256 of K, every layer's slice bindable, at
 * most 1024 (the matmul and convolution weight-gradient paths both ask it).
 */
export function splitKLayers(ctx: GpuContext, target: number, tiles: number, outputs: number, K: number): number {
  const bySize = Math.floor(ctx.limits.maxStorageBufferBindingSize / (4 * outputs));
  return Math.max(1, Math.min(Math.ceil(target / tiles), Math.floor(K / 256), bySize, 1024));
}

/**
 * The split-K reduction's workgroup: OUTS outputs × LANES lanes, 256 threads. GPUs get lanes
 * only where the outputs alone leave the device short of ~2^18 threads, and no more lanes than
 * slices. H100, BYOL ResNet-50 step (bench step --profile): with 8 lanes everywhere, its 42
 * matmul reductions (up to 262,144 outputs of 9 slices) took 2.40 ms against 1.09 with one
 * thread per output; with this choice 0.82 ms, and the 20 conv weight-gradient ones 0.42 ms
 * (0.74 with 8 lanes, 0.50 with one thread per output).
 */
export function splitKShape(software: boolean, outputs: number, splits: number): { OUTS: number; LANES: number } {
  let lanes = 1;
  if (!software) while (lanes < 8 && lanes * 2 <= splits && outputs * lanes * 2 <= 2 ** 18) lanes *= 2;
  return { OUTS: 256 / lanes, LANES: lanes };
}

/**
 * out = Σ over `splits` slices of part [splits, Co, J], written in OIHW order [Co, C, KK] for a
 * conv weight gradient (J = KK·C, tap-major) or row-major [Co, J] (KK = 1, C = J); lanes per
 * output as splitKShape decides.
 */
export function splitKReduce(ctx: GpuContext, part: GpuStorage, out: GpuStorage, Co: number, J: number, C: number, KK: number,
  splits: number, label: string, ep: { bias?: GpuStorage | null; residual?: GpuStorage | null; relu?: boolean } = {}): void {
  if ((ep.bias || ep.residual) && KK !== 1) throw new BackendError('splitKReduce: an epilogue needs row-major output (KK = 1)');
  const shape = splitKShape(isSoftwareDevice(ctx), Co * J, splits);
  const constants = { ...shape, HAS_BIAS: +!!ep.bias, HAS_RESIDUAL: +!!ep.residual, RELU: +!!ep.relu };
  ctx.dispatch(ctx.pipeline({ file: 'splitk_reduce.wgsl', constants }), [part, out, ep.bias ?? dummy(ctx), ep.residual ?? dummy(ctx)],
    params().u32(Co, J, C, KK, splits, 0, 0, 0).bytes(), grid(ctx, Co * J, shape.OUTS), label);
}

// ---- bindings ----

/**
 * The same storage bound as array<vec4<f32>>: its binding size rounded up to 16 bytes. The pool
 * hands out buffers in size classes of at least 256 bytes, so the rounding stays inside the
 * buffer; the tail words beyond `bytes` are never used by the kernels.
 */
export function asVec4(s: GpuStorage): GpuStorage {
  const bytes = Math.max(16, Math.ceil(s.bytes / 16) * 16);
  if (bytes === s.bytes) return s;
  const offset = s.offset ?? 0; // views into flat parameter buffers keep their place
  if (offset + bytes > s.buffer.size) {
    throw new BackendError(`storage of ${s.bytes} bytes at offset ${offset} cannot be bound as vec4 (buffer ${s.buffer.size} bytes)`);
  }
  return region(s, 0, bytes);
}

/** `bytes` of s starting `offset` bytes in: a binding region (offset on the device's alignment). */
export function region(s: GpuStorage, offset: number, bytes: number): GpuStorage {
  return { backend: 'webgpu', buffer: s.buffer, offset: (s.offset ?? 0) + offset, bytes, base: s };
}

const dummies = new WeakMap<GpuContext, GpuStorage>();

/** A small buffer bound in place of an absent optional operand (bias, residual, gamma, ...). */
export function dummy(ctx: GpuContext): GpuStorage {
  let d = dummies.get(ctx);
  if (!d) { d = ctx.alloc(16, true); dummies.set(ctx, d); }
  return d;
}

/** Return a temporary to the pool once its last use is recorded (the runtime orders reuse). */
export function releaseTemp(ctx: GpuContext, s: GpuStorage): void {
  const r = (ctx as GpuContext & { release?: (s: GpuStorage) => void }).release;
  if (r) r.call(ctx, s);
}
