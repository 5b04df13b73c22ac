// Convolutions (x NHWC, w OIHW, y NHWC) on the GEMM core. A 1×1 stride-1 unpadded convolution
// is a plain GEMM over the NHWC pixels; every other one is an implicit GEMM whose hooks gather
// im2col elements on the fly (kernels/conv2d_*.wgsl). Backward-weight reduces over N·Ho·Wo
// with split-K (partial sums per grid layer, then a deterministic reduction kernel).
import type { Conv2dParams, InputNorm, Raw, Storage } from '../../backend.js';
import { BackendError, fmtShape } from '../../../runtime/errors.js';
import { convOutSize, numel, sameShape, type Shape } from '../../../runtime/shape.js';
import type { GpuContext, GpuStorage } from '../context.js';
import { params, type Params } from '../params.js';
import { gpu, grid, need32 } from './util.js';
import { asVec4, attachColumnStats, chooseTile, columnStatsPart, dummy, gemmGrid, gemmKernel, isSoftwareDevice, noStats, region, releaseTemp, splitKLayers, splitKReduce, tileName, validateTile, type GemmTile } from './gemm.js';
import { gemm, type Epilogue } from './matmul.js';
import { binary } from './elementwise.js';
import { normalize, normPack } from './norm.js';

export interface ConvOptions {
  /** Fused after the bias: residual add (y's shape) and ReLU. */
  epilogue?: Omit<Epilogue, 'bias'>;
  /** Backward-weight: write dW here (a gradient sink of the weight's size) instead of fresh storage. */
  into?: GpuStorage | null;
  /**
   * Backward-data: add this (x's shape) to dx: the gradient of x from its other consumers. The
   * GEMM paths (1×1 stride 1, implicit k×k) add it as they store dx; the gather and phase-class
   * paths of strided convolutions in a pass of its own.
   */
  accumulate?: Raw | null;
  /**
   * 'implicit': the GEMM core gathers im2col elements on the fly; 'im2col': materialise the
   * patches, then a plain GEMM. Default: im2col on software devices for k×k convolutions with
   * few input channels, where the implicit hooks' index arithmetic dominates (lavapipe: 2–4×
   * faster on the default model), implicit otherwise (no extra memory).
   */
  path?: 'implicit' | 'im2col';
  tile?: GemmTile;
  /**
   * Strided backward-data on the implicit path: split the input pixels into stride phase
   * classes, each a dense GEMM over only the taps that reach it (kernels/
   * conv2d_bwd_data_strided.wgsl), instead of one GEMM that multiplies (s−1)/s zeros.
   * Default on software devices wherever it applies (≤ 16 classes, ≤ 64 taps); GPUs take the
   * GEMM + gather path (gatherStridedDx) unless no chunk of it fits. `phases: true` forces it.
   */
  phases?: boolean;
  /**
   * Thread mapping of the explicit im2col and col2im kernels: one thread per pixel (software
   * devices) or per pixel and 4 channels (GPUs; needs C % 4 == 0). Forced by tests, benchmarks.
   */
  mapping?: 'pixel' | 'channel4';
  /** Explicit backward-data: the most bytes its dcol temporary may take (default 1 GiB; tests). */
  maxTempBytes?: number;
  /** Backward-weight: force the number of split-K layers (tests, benchmarks). */
  splits?: number;
  /**
   * Backward-weight of a stride-2 convolution: compute it as the stride-1 ⌈kh/2⌉×⌈kw/2⌉
   * convolution of x's space-to-depth rearrangement (4·C channels, kernels/
   * conv2d_space_to_depth.wgsl). Default on GPUs for kernels of at least 5×5 over fewer than 4
   * channels: the 7×7/2 stem on RGB, whose implicit GEMM otherwise gathers its im2col rows three
   * floats at a time, each with a bounds check. Forced by tests; true takes precedence over path.
   */
  spaceToDepth?: boolean;
  /**
   * Forward: y feeds a training-mode batch norm over this many groups of rows (0 or absent: it
   * does not), so the GEMM makes y's per-channel statistics per row tile as it stores y and
   * attaches them (COLUMN_STATS) for batchStatistics, which then skips its own pass over y.
   * Ignored where a bias or epilogue changes y, the tile cannot, or row tiles would straddle
   * the groups.
   */
  columnStats?: number;
  /**
   * Forward and backward-weight: convolve x batch-normalised (Backend.conv2d's InputNorm). On
   * GPUs the GEMM paths (1×1 stride 1, implicit) apply it in their operand reads; the im2col and
   * space-to-depth paths, CPU implementations of WebGPU, and `normInReads: false` materialise
   * the normalised map for the call (see normInReadsByDefault).
   */
  inputNorm?: InputNorm | null;
  normInReads?: boolean;
}

let normInReadsOverride: boolean | null = null;
/**
 * Whether the GEMM paths apply an InputNorm in their reads unless told (ConvOptions.normInReads).
 * GPUs: yes. A workgroup stages each operand element once into workgroup memory, so the map costs
 * a few operations per element against the hundreds of multiply-adds it feeds, and saves a pass
 * that writes the map and reads it back. CPU implementations (lavapipe): no. Their barrier-free
 * tiles read each element once per thread that uses it, and there the map doubled the time of a
 * 1×1 convolution (bench kernels --quick, conv2d.fwd.norm: 1.31 → 2.54 ms), more than the pass
 * it saves.
 */
function normInReadsByDefault(ctx: GpuContext): boolean { return normInReadsOverride ?? !isSoftwareDevice(ctx); }
/** Tests: force (true / false) or restore (null) the default of normInReadsByDefault. Returns the previous override. */
export function setNormInReads(on: boolean | null): boolean | null {
  const before = normInReadsOverride;
  normInReadsOverride = on;
  return before;
}

export interface Geometry {
  N: number; H: number; W: number; C: number; Co: number; KH: number; KW: number;
  Ho: number; Wo: number; sh: number; sw: number; ph: number; pw: number;
}

function geometry(op: string, xShape: Shape, wShape: Shape, p: Conv2dParams): Geometry {
  if (xShape.length !== 4 || wShape.length !== 4 || xShape[3] !== wShape[1]) {
    throw new BackendError(`${op}: expected x [N,H,W,C] and w [Co,C,kh,kw] (x ${fmtShape(xShape)}, w ${fmtShape(wShape)})`);
  }
  const [N, H, W, C] = xShape;
  const [Co, , KH, KW] = wShape;
  const [sh, sw] = p.stride, [ph, pw] = p.pad;
  const Ho = convOutSize(H, KH, sh, ph), Wo = convOutSize(W, KW, sw, pw);
  if (Ho <= 0 || Wo <= 0) throw new BackendError(`${op}: empty output (x ${fmtShape(xShape)}, w ${fmtShape(wShape)}, stride ${p.stride}, pad ${p.pad})`);
  return { N, H, W, C, Co, KH, KW, Ho, Wo, sh, sw, ph, pw };
}

const isPointwise = (g: Geometry) => g.KH === 1 && g.KW === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 && g.pw === 0;

/** The 12 geometry words every conv kernel's uniform block starts with. */
function convGeometry(g: Geometry): Params {
  return params().u32(g.N, g.H, g.W, g.C, g.Ho, g.Wo, g.Co, g.KW, g.sh, g.sw).i32(g.ph, g.pw);
}
/** The 16 shared header words of the conv kernels' uniform blocks (last four vary). */
function convHeader(g: Geometry, tail: [number, number, number, number]): Params {
  return convGeometry(g).u32(...tail);
}
function convParams(g: Geometry, tail: [number, number, number, number]): Uint8Array { return convHeader(g, tail).bytes(); }
/** The override constants of an implicit-GEMM kernel's NORM option. */
function normConstants(norm: { groups: number; relu: boolean } | null): Record<string, number> {
  return norm ? { NORM: 1, NORM_RELU: +norm.relu, NORM_GROUPED: +(norm.groups > 1) } : {};
}
/** The implicit forward / backward-data block: rows M, reduction K, and the reciprocals mm_udiv takes. */
function implicitParams(g: Geometry, M: number, K: number, kDivisor: number): Uint8Array {
  return convGeometry(g).u32(M, K).f32(1 / kDivisor, 1 / g.KW).bytes();
}
/** Pixel counts below this are divided through float reciprocals (mm_udiv is exact there). */
const FAST_DIV_LIMIT = 2 ** 24;
let fastDivLimit = FAST_DIV_LIMIT;

/** Tests only: backward-weight divides exactly from `limit` pixels on (0: always); null restores 2^24. */
export function setFastDivisionLimit(limit: number | null): void { fastDivLimit = limit ?? FAST_DIV_LIMIT; }

/** OIHW weights re-laid for the implicit GEMMs (a temporary the caller releases). */
function relayout(ctx: GpuContext, w: GpuStorage, g: Geometry, entryPoint: 'to_ohwi' | 'to_hwoi' | 'from_ohwi', into: GpuStorage | null = null): GpuStorage {
  const n = g.Co * g.C * g.KH * g.KW;
  const out = into ?? ctx.alloc(4 * n);
  ctx.dispatch(ctx.pipeline({ file: 'conv2d_weight_layout.wgsl', entryPoint }), [w, out],
    params().u32(g.Co, g.C, g.KH * g.KW, 0).bytes(), grid(ctx, n), `conv2d weights ${entryPoint}`);
  return out;
}

/** A convolution's multiply-adds ×2 (the same for forward and both backwards): its profile rate. */
const convFlops = (g: Geometry): number => 2 * g.N * g.Ho * g.Wo * g.Co * g.C * g.KH * g.KW;

function checkF32(op: string, ...xs: Raw[]): void { for (const x of xs) need32(op, x, ['f32']); }

function useIm2col(ctx: GpuContext, g: Geometry, opts: ConvOptions, bytes: number): boolean {
  if (opts.path) return opts.path === 'im2col';
  return isSoftwareDevice(ctx) && g.C <= 32 && bytes <= ctx.limits.maxStorageBufferBindingSize;
}

/**
 * Strided backward-data on a GPU as dcol = dy × W (a plain GEMM at the GEMM core's full rate)
 * and a gather of dcol onto the pixels, instead of the phase-class implicit GEMM: on an H100
 * the phase kernel ran ResNet-50's 3×3/2 and 1×1/2 backward-data at 0.6–0.9 TFLOP/s against
 * 26 for the stride-1 3×3 (bench/RESULTS.md). dcol has P·kh·kw·C floats, so it is made a few
 * images at a time, each chunk within tempCap (RF99-ResNet50's layer 2 at the 128 images of two
 * batched views needs 1.85 GB); the phase kernel runs only where no chunk fits.
 */
function gatherStridedDx(ctx: GpuContext, g: Geometry, opts: ConvOptions): boolean {
  if (opts.path || opts.phases !== undefined || isSoftwareDevice(ctx)) return false;
  return (g.sh > 1 || g.sw > 1) && gatherChunk(ctx, g, tempCap(ctx, opts)) > 0;
}

function tempCap(ctx: GpuContext, opts: ConvOptions): number {
  return Math.min(opts.maxTempBytes ?? 2 ** 30, ctx.limits.maxStorageBufferBindingSize);
}

/**
 * Images per chunk of the explicit backward-data: its dcol within `cap` bytes, and every chunk's
 * start in dy and dx on the device's binding-offset alignment. 0 where no chunk can.
 */
export function gatherChunk(ctx: Pick<GpuContext, 'limits'>, g: Geometry, cap: number): number {
  const fit = Math.min(g.N, Math.floor(cap / (4 * g.Ho * g.Wo * g.KH * g.KW * g.C)));
  if (fit >= g.N) return g.N;
  const a = ctx.limits.minStorageBufferOffsetAlignment;
  const step = lcm(a / gcd(a, 4 * g.Ho * g.Wo * g.Co), a / gcd(a, 4 * g.H * g.W * g.C));
  return Math.floor(fit / step) * step;
}
const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
const lcm = (a: number, b: number): number => (a / gcd(a, b)) * b;

function byChannel4(ctx: GpuContext, g: Geometry, opts: ConvOptions): boolean {
  if (opts.mapping === 'channel4' && g.C % 4) throw new BackendError(`conv2d: mapping 'channel4' needs C % 4 == 0 (C = ${g.C})`);
  return g.C % 4 === 0 && (opts.mapping ? opts.mapping === 'channel4' : !isSoftwareDevice(ctx));
}

/** The patches [N·Ho·Wo, kh·kw·C] of x (a temporary the caller releases). */
function im2col(ctx: GpuContext, x: GpuStorage, g: Geometry, opts: ConvOptions): GpuStorage {
  const pixels = g.N * g.Ho * g.Wo, cols = g.KH * g.KW * g.C;
  const col = ctx.alloc(4 * pixels * cols);
  const byChannel = byChannel4(ctx, g, opts);
  ctx.dispatch(ctx.pipeline({ file: 'conv2d_im2col.wgsl', entryPoint: byChannel ? 'by_channel4' : 'main' }),
    byChannel ? [asVec4(x), asVec4(col)] : [x, col], convParams(g, [pixels, g.KH, 0, 0]),
    grid(ctx, byChannel ? pixels * (cols / 4) : pixels, 64), `conv2d im2col ${fmtShape([g.N, g.H, g.W, g.C])}`);
  return col;
}

/**
 * An implicit-GEMM convolution's GEMM site (gemm_tuning.ts) and the start of its dispatch label:
 * the operation, input and weight shapes, stride and padding (two convolutions with the same
 * shapes but another stride or padding are different products).
 */
function convSite(op: string, xShape: Shape, wShape: Shape, g: Geometry): string {
  return `${op} ${fmtShape(xShape)}*${fmtShape(wShape)} s${g.sh}×${g.sw} p${g.ph}×${g.pw}`;
}

/**
 * Runs `fn` on x batch-normalised as `n` says, materialised for the call and released after it
 * (the paths that cannot apply the map in their operand reads), or on x itself.
 */
function withNormalizedInput(ctx: GpuContext, x: Raw, n: InputNorm | null | undefined, fn: (x: Raw) => Storage): Storage {
  if (!n) return fn(x);
  const C = x.shape[3];
  const y = normalize(ctx, { storage: x.storage, shape: [numel(x.shape) / C, C], dtype: x.dtype }, n.mean, n.invstd, n.gamma, n.beta, { relu: n.relu }) as GpuStorage;
  const out = fn({ storage: y, shape: x.shape, dtype: x.dtype });
  releaseTemp(ctx, y);
  return out;
}

/** The InputNorm's terms for a GEMM path that applies it in its reads (a temporary the caller releases). */
function normTerms(op: string, ctx: GpuContext, n: InputNorm, g: Geometry): { pack: GpuStorage; groups: number; relu: boolean } {
  const G = numel(n.mean.shape) / g.C;
  if (!Number.isInteger(G) || g.N % G !== 0) {
    throw new BackendError(`${op}: ${g.N} images cannot take batch-norm statistics ${fmtShape(n.mean.shape)} for ${g.C} channels in equal groups`);
  }
  return { ...normPack(ctx, n, g.C), relu: n.relu };
}

export function conv2d(ctx: GpuContext, x: Raw, w: Raw, bias: Raw | null, p: Conv2dParams, opts: ConvOptions = {}): Storage {
  checkF32('conv2d', x, w, ...(bias ? [bias] : []));
  const g = geometry('conv2d', x.shape, w.shape, p);
  const M = g.N * g.Ho * g.Wo, K = g.KH * g.KW * g.C;
  const pointwise = isPointwise(g), explicit = !pointwise && useIm2col(ctx, g, opts, 4 * M * K);
  if (opts.inputNorm && (explicit || !(opts.normInReads ?? normInReadsByDefault(ctx)))) {
    return withNormalizedInput(ctx, x, opts.inputNorm, (xn) => conv2d(ctx, xn, w, bias, p, { ...opts, inputNorm: null }));
  }
  const ep: Epilogue = { ...opts.epilogue, bias: bias ? gpu(bias) : null };
  const columnStats = opts.columnStats;
  const norm = opts.inputNorm ? normTerms('conv2d', ctx, opts.inputNorm, g) : null;
  if (pointwise) {
    // [N·H·W, Cin] × W[Cout, Cin]ᵀ
    const y = gemm(ctx, { a: gpu(x), b: gpu(w), batch: 1, M, N: g.Co, K, transA: false, transB: true },
      { epilogue: ep, tile: opts.tile, columnStats, norm: norm && { operand: 'a', ...norm } });
    if (norm) releaseTemp(ctx, norm.pack);
    return y;
  }
  if (explicit) {
    const col = im2col(ctx, gpu(x), g, opts);
    const wt = relayout(ctx, gpu(w), g, 'to_ohwi');
    const y = gemm(ctx, { a: col, b: wt, batch: 1, M, N: g.Co, K, transA: false, transB: true }, { epilogue: ep, tile: opts.tile, columnStats });
    releaseTemp(ctx, col); releaseTemp(ctx, wt);
    return y;
  }
  const y = ctx.alloc(4 * M * g.Co);
  const site = convSite('conv2d', x.shape, w.shape, g);
  const t = opts.tile ?? chooseTile(ctx, M, g.Co, 1, 'conv', site);
  validateTile(ctx, t);
  const stats = columnStatsPart(ctx, t, M, g.Co, columnStats, ep);
  const wt = g.KH * g.KW === 1 ? gpu(w) : relayout(ctx, gpu(w), g, 'to_ohwi');
  const kernel = gemmKernel('conv2d_fwd.wgsl', t,
    { aKContig: true, bNContig: false, aVec: g.C % 4 === 0, bVec: K % 4 === 0, cVec: g.Co % 4 === 0 },
    { HAS_BIAS: +!!ep.bias, HAS_RESIDUAL: +!!ep.residual, RELU: +!!ep.relu, COL_STATS: +!!stats, ...normConstants(norm) });
  ctx.dispatch(ctx.pipeline(kernel),
    [asVec4(gpu(x)), asVec4(wt), ep.bias ?? dummy(ctx), ep.residual ? asVec4(ep.residual) : dummy(ctx), asVec4(y), stats ?? noStats(ctx),
      norm ? asVec4(norm.pack) : dummy(ctx)],
    convGeometry(g).u32(M, K).f32(1 / g.C, 1 / g.KW).u32(g.N / (norm?.groups ?? 1), 0, 0, 0).bytes(), gemmGrid(ctx, t, M, g.Co, 1),
    `${site}${stats ? ' +stats' : ''}${norm ? ' +norm' : ''} @${tileName(t)}`, convFlops(g));
  if (wt !== gpu(w)) releaseTemp(ctx, wt);
  if (norm) releaseTemp(ctx, norm.pack);
  if (stats) attachColumnStats(ctx, y, stats, t, M, g.Co);
  return y;
}

export function conv2dBackwardData(ctx: GpuContext, dy: Raw, w: Raw, xShape: Shape, p: Conv2dParams, opts: ConvOptions = {}): Storage {
  checkF32('conv2dBackwardData', dy, w);
  const g = geometry('conv2dBackwardData', xShape, w.shape, p);
  const M = g.N * g.H * g.W, K = g.KH * g.KW * g.Co;
  const acc = opts.accumulate ?? null;
  if (acc) {
    checkF32('conv2dBackwardData', acc);
    if (!sameShape(acc.shape, xShape)) throw new BackendError(`conv2dBackwardData: accumulate has shape ${fmtShape(acc.shape)}, x has ${fmtShape(xShape)}`);
  }
  if (isPointwise(g)) {
    // dx [N·H·W, Cin] = dy [N·H·W, Cout] × W [Cout, Cin] (+ the other consumers' gradient, in the
    // epilogue, or in the split-K reduce where the output has too few tiles to fill the GPU:
    // layer 4's 7×7 maps)
    return gemm(ctx, { a: gpu(dy), b: gpu(w), batch: 1, M, N: g.C, K, transA: false, transB: false },
      { tile: opts.tile, epilogue: acc ? { bias: null, residual: gpu(acc), relu: false } : undefined });
  }
  // The gather and phase-class paths add it in a pass of its own; the implicit GEMM's epilogue does.
  const plusAcc = (dx: GpuStorage): GpuStorage => {
    if (!acc) return dx;
    const sum = binary(ctx, 'add', { storage: dx, shape: xShape, dtype: 'f32' }, acc, xShape) as GpuStorage;
    releaseTemp(ctx, dx);
    return sum;
  };
  const P = g.N * g.Ho * g.Wo, KC = g.KH * g.KW * g.C;
  if (useIm2col(ctx, g, opts, 4 * P * KC) || gatherStridedDx(ctx, g, opts)) {
    // dcol [P, kh·kw·C] = dy [P, Co] × W_ohwi [Co, kh·kw·C], then gathered back onto the pixels,
    // `chunk` images at a time through one dcol buffer (dispatches in a pass run in order).
    const chunk = gatherChunk(ctx, g, tempCap(ctx, opts)) || g.N;
    const wt = relayout(ctx, gpu(w), g, 'to_ohwi');
    const dx = ctx.alloc(4 * M * g.C);
    const dcol = ctx.alloc(4 * chunk * g.Ho * g.Wo * KC);
    // GPUs: a thread per pixel and 4 channels (coalesced); CPU implementations: a thread per pixel.
    const byChannel = byChannel4(ctx, g, opts);
    const col2im = ctx.pipeline({ file: 'conv2d_col2im.wgsl', entryPoint: byChannel ? 'by_channel4' : 'main' });
    for (let n0 = 0; n0 < g.N; n0 += chunk) {
      const n = Math.min(chunk, g.N - n0), rows = n * g.Ho * g.Wo, pixels = n * g.H * g.W;
      const dyPart = chunk === g.N ? gpu(dy) : region(gpu(dy), 4 * n0 * g.Ho * g.Wo * g.Co, 4 * rows * g.Co);
      const dxPart = chunk === g.N ? dx : region(dx, 4 * n0 * g.H * g.W * g.C, 4 * pixels * g.C);
      const dcolPart = region(dcol, 0, 4 * rows * KC);
      gemm(ctx, { a: dyPart, b: wt, batch: 1, M: rows, N: KC, K: g.Co, transA: false, transB: false }, { tile: opts.tile, out: dcolPart });
      ctx.dispatch(col2im, byChannel ? [asVec4(dcolPart), asVec4(dxPart)] : [dcolPart, dxPart], convParams({ ...g, N: n }, [pixels, g.KH, 0, 0]),
        grid(ctx, byChannel ? pixels * (g.C / 4) : pixels, 64), `conv2d col2im ${fmtShape(xShape)}`);
    }
    releaseTemp(ctx, wt);
    releaseTemp(ctx, dcol);
    return plusAcc(dx);
  }
  const classes = (g.sh > 1 || g.sw > 1) && opts.phases !== false ? strideClasses(g) : null;
  if (classes) return plusAcc(stridedBackwardData(ctx, gpu(dy), gpu(w), g, classes, opts));
  const dx = ctx.alloc(4 * M * g.C);
  const site = convSite('conv2d dx', xShape, w.shape, g);
  const t = opts.tile ?? chooseTile(ctx, M, g.C, 1, 'conv-dx', site);
  validateTile(ctx, t);
  const wr = g.KH * g.KW === 1 ? gpu(w) : relayout(ctx, gpu(w), g, 'to_hwoi');
  const kernel = gemmKernel('conv2d_bwd_data.wgsl', t,
    { aKContig: true, bNContig: true, aVec: g.Co % 4 === 0, bVec: g.C % 4 === 0, cVec: g.C % 4 === 0 }, { ACCUMULATE: +!!acc });
  ctx.dispatch(ctx.pipeline(kernel), [asVec4(gpu(dy)), asVec4(wr), asVec4(dx), acc ? asVec4(gpu(acc)) : dummy(ctx)],
    implicitParams(g, M, K, g.Co), gemmGrid(ctx, t, M, g.C, 1), `${site} @${tileName(t)}`, convFlops(g));
  if (wr !== gpu(w)) releaseTemp(ctx, wr);
  return dx;
}

interface StrideClasses {
  /** Per class z = ry·sw + rx: (ih0, iw0, Hz, Wz), (Th, Tw, tapOffset, 0) — see the kernel. */
  table: number[];
  /** OIHW tap (kh·KW + kw) at each position of the phase-major weight layout. */
  perm: number[];
  /** Rows of the largest class. */
  maxRows: number;
  count: number;
}

/** The stride phase classes of a strided backward-data, or null where the kernel's tables do not fit. */
function strideClasses(g: Geometry): StrideClasses | null {
  const count = g.sh * g.sw;
  if (count > 16 || g.KH * g.KW > 64) return null;
  const first = (r: number, s: number, pad: number) => (((r - pad) % s) + s) % s; // smallest i ≥ 0 with (i + pad) % s = r
  const extent = (from: number, size: number, s: number) => (from < size ? Math.ceil((size - from) / s) : 0);
  const table: number[] = [], perm: number[] = [];
  for (let ry = 0; ry < g.sh; ry++) {
    for (let rx = 0; rx < g.sw; rx++) {
      const ih0 = first(ry, g.sh, g.ph), iw0 = first(rx, g.sw, g.pw);
      const Th = extent(ry, g.KH, g.sh), Tw = extent(rx, g.KW, g.sw);
      table.push(ih0, iw0, extent(ih0, g.H, g.sh), extent(iw0, g.W, g.sw), Th, Tw, perm.length, 0);
      for (let th = 0; th < Th; th++) for (let tw = 0; tw < Tw; tw++) perm.push((ry + g.sh * th) * g.KW + rx + g.sw * tw);
    }
  }
  return { table, perm, maxRows: g.N * Math.ceil(g.H / g.sh) * Math.ceil(g.W / g.sw), count };
}

function stridedBackwardData(ctx: GpuContext, dy: GpuStorage, w: GpuStorage, g: Geometry, cls: StrideClasses, opts: ConvOptions): GpuStorage {
  const KK = g.KH * g.KW;
  const wp = ctx.alloc(4 * g.Co * g.C * KK);
  ctx.dispatch(ctx.pipeline({ file: 'conv2d_weight_layout.wgsl', entryPoint: 'to_hwoi_permuted' }), [w, wp],
    params().u32(g.Co, g.C, KK, 0).vec4s(cls.perm, 16).bytes(), grid(ctx, g.Co * g.C * KK), 'conv2d weights to_hwoi_permuted');
  const dx = ctx.alloc(4 * g.N * g.H * g.W * g.C);
  const site = convSite('conv2d dx phases', [g.N, g.H, g.W, g.C], [g.Co, g.C, g.KH, g.KW], g);
  const t = opts.tile ?? chooseTile(ctx, cls.maxRows, g.C, cls.count, undefined, site);
  validateTile(ctx, t);
  const kernel = gemmKernel('conv2d_bwd_data_strided.wgsl', t,
    { aKContig: true, bNContig: true, aVec: g.Co % 4 === 0, bVec: g.C % 4 === 0, cVec: g.C % 4 === 0 });
  ctx.dispatch(ctx.pipeline(kernel), [asVec4(dy), asVec4(wp), asVec4(dx)],
    convHeader(g, [cls.maxRows, 0, 0, 0]).vec4s(cls.table, 32).bytes(),
    gemmGrid(ctx, t, cls.maxRows, g.C, cls.count), `${site} @${tileName(t)}`, convFlops(g));
  releaseTemp(ctx, wp);
  return dx;
}

function useSpaceToDepth(ctx: GpuContext, g: Geometry, opts: ConvOptions): boolean {
  const applies = g.sh === 2 && g.sw === 2 && g.KH > 1 && g.KW > 1;
  if (opts.spaceToDepth !== undefined) {
    if (opts.spaceToDepth && !applies) throw new BackendError(`conv2dBackwardWeight: spaceToDepth needs stride 2×2 and a kernel of at least 2×2 (stride ${g.sh}×${g.sw}, kernel ${g.KH}×${g.KW})`);
    return opts.spaceToDepth;
  }
  // By default only where nothing else gathers well: fewer than 4 channels and a kernel of at least
  // 5×5 (the RGB stem). A 3×3 kernel would do 16/9 of the work, and wider inputs gather runs of C
  // floats already (untimed; bench/RESULTS.md, thirteenth session).
  return applies && spaceToDepthDefault && !opts.path && !isSoftwareDevice(ctx) && g.C < 4 && g.KH >= 5 && g.KW >= 5;
}
/** COENGINE_SPACE_TO_DEPTH=0: the stem's weight gradient on the plain implicit GEMM (A/B runs). */
const spaceToDepthDefault = process.env.COENGINE_SPACE_TO_DEPTH !== '0';

/**
 * dW of a stride-2 convolution through space-to-depth: y[oy] = Σ_ky x[2·oy + ky − ph]·w[ky]
 * with ky = 2·a + py is Σ_(a, py) xs[oy + a, py]·w[2·a + py], a stride-1 ⌈kh/2⌉-tap
 * convolution of xs (conv2d_space_to_depth.wgsl) with no padding, whose weight gradient holds
 * dW's taps (and zero-weight ones past an odd kernel's edge, dropped when mapped back).
 */
function spaceToDepthBackwardWeight(ctx: GpuContext, x: GpuStorage, dy: Raw, g: Geometry, opts: ConvOptions, into: GpuStorage | null): GpuStorage {
  const KH2 = Math.ceil(g.KH / 2), KW2 = Math.ceil(g.KW / 2);
  const Hs = g.Ho + KH2 - 1, Ws = g.Wo + KW2 - 1, C4 = 4 * g.C;
  const n = g.N * Hs * Ws * C4;
  const xs = ctx.alloc(4 * n);
  ctx.dispatch(ctx.pipeline({ file: 'conv2d_space_to_depth.wgsl', entryPoint: 'main' }), [x, xs],
    params().u32(g.N, g.H, g.W, g.C, Hs, Ws).i32(g.ph, g.pw).bytes(), grid(ctx, n), `conv2d space-to-depth ${fmtShape([g.N, g.H, g.W, g.C])}`);
  const gs: Geometry = { ...g, H: Hs, W: Ws, C: C4, KH: KH2, KW: KW2, sh: 1, sw: 1, ph: 0, pw: 0 };
  const dws = implicitBackwardWeight(ctx, xs, gpu(dy), gs, opts, null,
    convSite('conv2d dw space-to-depth', [g.N, Hs, Ws, C4], [g.Co, C4, KH2, KW2], gs), convFlops(g));
  releaseTemp(ctx, xs);
  const m = g.Co * g.C * g.KH * g.KW;
  const dw = into ?? ctx.alloc(4 * m);
  ctx.dispatch(ctx.pipeline({ file: 'conv2d_space_to_depth.wgsl', entryPoint: 'weights_from' }), [dws, dw],
    params().u32(g.Co, g.C, g.KH, g.KW).bytes(), grid(ctx, m), 'conv2d dw from space-to-depth');
  releaseTemp(ctx, dws);
  return dw;
}

/**
 * Split-K layers for backward-weight: enough workgroups to fill the device, chunks ≥ 256 pixels.
 * GPUs: ≈ 8 workgroups per SM of a 132-SM GPU. H100, BYOL ResNet-50: against ≈ 4, nine of the
 * eleven weight gradients ran 10–30% faster (all eleven 23.0 → 20.1 ms a step, their split-K
 * reductions 1.0 → 1.2 ms; bench step --profile-shapes, bench/RESULTS.md, eleventh session).
 */
function chooseSplits(ctx: GpuContext, t: GemmTile, Co: number, J: number, P: number): number {
  const tiles = Math.ceil(Co / t.BM) * Math.ceil(J / t.BN);
  return splitKLayers(ctx, isSoftwareDevice(ctx) ? 4 : 1056, tiles, Co * J, P);
}

export function conv2dBackwardWeight(ctx: GpuContext, x: Raw, dy: Raw, wShape: Shape, p: Conv2dParams, opts: ConvOptions = {}): Storage {
  checkF32('conv2dBackwardWeight', x, dy);
  const g = geometry('conv2dBackwardWeight', x.shape, wShape, p);
  const P = g.N * g.Ho * g.Wo, KK = g.KH * g.KW, J = KK * g.C;
  const s2d = P > 0 && useSpaceToDepth(ctx, g, opts);
  const pointwise = P > 0 && isPointwise(g) && opts.path !== 'implicit';
  const explicit = P > 0 && !isPointwise(g) && useIm2col(ctx, g, opts, 4 * P * J);
  if (opts.inputNorm && (s2d || explicit || !(opts.normInReads ?? normInReadsByDefault(ctx)))) {
    return withNormalizedInput(ctx, x, opts.inputNorm, (xn) => conv2dBackwardWeight(ctx, xn, dy, wShape, p, { ...opts, inputNorm: null }));
  }
  const into = opts.into && opts.into.bytes === 4 * g.Co * J ? opts.into : null;
  if (s2d) return spaceToDepthBackwardWeight(ctx, gpu(x), dy, g, opts, into);
  if (P === 0) return ctx.alloc(4 * g.Co * J, true);
  const norm = opts.inputNorm ? normTerms('conv2dBackwardWeight', ctx, opts.inputNorm, g) : null;
  if (pointwise) {
    // 1×1 stride 1: dW [Co, C] = dyᵀ [Co, P] × x [P, C] is a plain GEMM (split over the pixels
    // by gemm() when its output has few tiles) with no index arithmetic at all.
    const dw = gemm(ctx, { a: gpu(dy), b: gpu(x), batch: 1, M: g.Co, N: g.C, K: P, transA: true, transB: false },
      { tile: opts.tile, splitK: opts.splits, out: into, norm: norm && { operand: 'b', ...norm } });
    if (norm) releaseTemp(ctx, norm.pack);
    return dw;
  }
  if (explicit) {
    // dW_ohwi [Co, kh·kw·C] = dyᵀ [Co, P] × col [P, kh·kw·C], then back to OIHW
    const col = im2col(ctx, gpu(x), g, opts);
    const dwt = gemm(ctx, { a: gpu(dy), b: col, batch: 1, M: g.Co, N: J, K: P, transA: true, transB: false }, { tile: opts.tile });
    releaseTemp(ctx, col);
    const dw = relayout(ctx, dwt, g, 'from_ohwi', into);
    releaseTemp(ctx, dwt);
    return dw;
  }
  const dw = implicitBackwardWeight(ctx, gpu(x), gpu(dy), g, opts, into, convSite('conv2d dw', x.shape, wShape, g), convFlops(g), norm);
  if (norm) releaseTemp(ctx, norm.pack);
  return dw;
}

/**
 * dW on the implicit GEMM (conv2d_bwd_weight.wgsl), split over the pixels. `site` names it for
 * the tile choice and the profile, `flops` is the useful work the profile rates it by (a
 * space-to-depth product computes padded taps too: its rate counts the original convolution's).
 */
function implicitBackwardWeight(ctx: GpuContext, x: GpuStorage, dy: GpuStorage, g: Geometry, opts: ConvOptions,
  into: GpuStorage | null, site: string, flops: number, norm: { pack: GpuStorage; groups: number; relu: boolean } | null = null): GpuStorage {
  const P = g.N * g.Ho * g.Wo, KK = g.KH * g.KW, J = KK * g.C;
  const t = opts.tile ?? chooseTile(ctx, g.Co, J, 4, 'conv-dw', site);
  validateTile(ctx, t);
  let splits = Math.max(1, Math.min(opts.splits ?? chooseSplits(ctx, t, g.Co, J, P), P));
  const chunk = Math.ceil(Math.ceil(P / splits) / t.BK) * t.BK;
  splits = Math.ceil(P / chunk);
  const dw = into ?? ctx.alloc(4 * g.Co * J);
  const split = splits > 1;
  const out = split ? ctx.alloc(4 * splits * g.Co * J) : dw;
  const kernel = gemmKernel('conv2d_bwd_weight.wgsl', t,
    { aKContig: false, bNContig: true, aVec: g.Co % 4 === 0, bVec: g.C % 4 === 0, cVec: false }, { SPLIT: +split, ...normConstants(norm) });
  const normImages = g.N / (norm?.groups ?? 1);
  ctx.dispatch(ctx.pipeline(kernel), [asVec4(dy), asVec4(x), asVec4(out), norm ? asVec4(norm.pack) : dummy(ctx)],
    convHeader(g, [P, J, chunk, KK]).f32(1 / g.Wo, 1 / g.Ho).u32(+(P < fastDivLimit), normImages).f32(1 / normImages).u32(0, 0, 0).bytes(),
    gemmGrid(ctx, t, g.Co, J, splits), `${site} ×${splits} splits${norm ? ' +norm' : ''} @${tileName(t)}`, flops);
  if (split) {
    splitKReduce(ctx, out, dw, g.Co, J, g.C, KK, splits, 'conv2d dw split-K reduce');
    releaseTemp(ctx, out);
  }
  return dw;
}
