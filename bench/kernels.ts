// `coengine bench kernels`: GPU time of the heavy kernels (GEMM, convolution forward and both
// backwards, batch norm, max-pool) on ResNet-50 / RF99-ResNet50 shapes at batch 64, 224 px, with
// a correctness check per kernel. --quick uses small shapes (under a minute on lavapipe) checked
// against the CPU backend; full shapes are checked on a random sample of output entries
// computed on the host in f64. Time: GPU timestamps summed over `reps` runs (wall time to
// onSubmittedWorkDone where timestamps are missing), after a warm-up run and an untimed burst
// that brings the GPU's clocks up; the median of 3 such batches. --layers ARCH replaces the rows
// with every distinct convolution of a backbone; --gemm-reference N sets each row against GEMM N³.
// Also runnable alone: `node dist/bench/kernels.js [--quick] [--only gemm] [--sweep]`.
import { pathToFileURL } from 'node:url';
import type { Conv2dParams, InputNorm, PoolParams, Raw } from '../src/backend/backend.js';
import { cpu } from '../src/backend/registry.js';
import { createWebGpuBackend } from '../src/backend/webgpu/index.js';
import type { GpuRuntime } from '../src/backend/webgpu/runtime.js';
import type { GpuStorage } from '../src/backend/webgpu/context.js';
import { convOutSize } from '../src/runtime/shape.js';
import { createBackbone } from '../src/models/presets.js';
import { traceModule } from '../src/models/trace.js';
import { GEMM_TILES, validateTile, type GemmTile } from '../src/backend/webgpu/ops/gemm.js';
import { gemm } from '../src/backend/webgpu/ops/matmul.js';
import { conv2d, conv2dBackwardData, conv2dBackwardWeight, type ConvOptions } from '../src/backend/webgpu/ops/conv.js';
import { moments, normalize, batchNormBackward } from '../src/backend/webgpu/ops/norm.js';
import { maxPool2d, maxPool2dBackward } from '../src/backend/webgpu/ops/pool.js';
import { binary, unary } from '../src/backend/webgpu/ops/elementwise.js';

export interface KernelBenchOptions {
  quick: boolean;
  json: boolean;
  /**
   * Run only kernels whose "kernel shape" label contains this substring, or one of several
   * separated by commas (a comma followed by a space is part of a pattern: labels hold "[512, 64]").
   */
  only?: string;
  /** Timed repetitions per kernel (after one warm-up). */
  reps?: number;
  /** Also time GEMM 4096³ (512³ with --quick) under every tile config. */
  sweep?: boolean;
  /**
   * Instead of the default rows: every distinct convolution of this backbone (e.g. resnet50),
   * forward and both backwards, at `batch` images (64; 2 with quick) of `size` px (224; 64 with quick).
   */
  layers?: string;
  batch?: number;
  size?: number;
  /** Time GEMM n³ (AB, ABᵀ, AᵀB) first and give each row its rate as a share of the best of them. */
  gemmReference?: number;
}

/** The issue's bar for a convolution layer: this share of the GEMM rate. */
export const LAYER_SHARE_OF_GEMM = 0.6;

export interface KernelBenchRow {
  kernel: string;
  shape: string;
  ms: number;
  gflops: number | null;
  gbps: number | null;
  maxRelErr: number;
  /**
   * Slowest over fastest of the timed batches (ms is their median): near 1 when the device held
   * one speed over the row. On an H100 rows of the same code differed by 2× between processes.
   */
  spread: number;
  /** With gemmReference: GFLOP/s as a share of the best GEMM n³ rate of the same run. */
  ofGemm?: number;
}

/** A prepared benchmark: inputs are on the GPU; run() records one execution. */
interface Prepared {
  run(): GpuStorage[];
  /** Max relative error of one run's outputs against the reference. */
  check(outs: GpuStorage[]): Promise<number>;
  inputs: GpuStorage[];
}

interface Case {
  kernel: string;
  shape: string;
  flops: number;
  bytes: number;
  prepare(rt: GpuRuntime, exact: boolean): Prepared;
}

// ---------------------------------------------------------------- host data & references

/** Fast deterministic uniform(-1, 1) fill (xorshift32; big tensors are hundreds of MB). */
function randomData(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    a[i] = s / 2147483648 - 1;
  }
  return a;
}

const SAMPLES = 48;

function sampleIndices(n: number, seed: number): number[] {
  const r = randomData(SAMPLES, seed);
  const idx = r.map((v) => Math.min(n - 1, Math.floor(((v + 1) / 2) * n)));
  return [0, n - 1, ...Array.from(idx)];
}

/** max |got − ref| / max |ref| over the given pairs. */
function relErr(pairs: [number, number][]): number {
  let scale = 1e-30, err = 0;
  for (const [, r] of pairs) scale = Math.max(scale, Math.abs(r));
  for (const [g, r] of pairs) { const d = Math.abs(g - r); err = Number.isNaN(d) ? Infinity : Math.max(err, d); }
  return err / scale;
}

async function read(rt: GpuRuntime, s: GpuStorage, n: number): Promise<Float32Array> {
  return new Float32Array(await rt.read(s, 4 * n));
}

/** Full comparison against the CPU backend (quick shapes). */
async function compareCpu(rt: GpuRuntime, out: GpuStorage, n: number, ref: Raw['storage']): Promise<number> {
  const got = await read(rt, out, n);
  const want = await cpu().download({ storage: ref, shape: [n], dtype: 'f32' });
  return relErr(Array.from(got, (g, i) => [g, want[i]] as [number, number]));
}

/** Sampled comparison: ref(i) computes output entry i in f64 on the host. */
async function compareSampled(rt: GpuRuntime, out: GpuStorage, n: number, seed: number, ref: (i: number) => number): Promise<number> {
  const got = await read(rt, out, n);
  return relErr(sampleIndices(n, seed).map((i) => [got[i], ref(i)] as [number, number]));
}

const cpuRaw = (a: Float32Array | Int32Array, shape: number[]): Raw =>
  ({ storage: cpu().upload(a, a instanceof Int32Array ? 'i32' : 'f32'), shape, dtype: a instanceof Int32Array ? 'i32' : 'f32' });

// ---------------------------------------------------------------- cases

function gemmCase(M: number, N: number, K: number, transA = false, transB = false, tile?: GemmTile, tileName?: string): Case {
  const tag = `${transA ? 'Aᵀ' : 'A'}${transB ? 'Bᵀ' : 'B'}`;
  return {
    kernel: tileName ? `gemm[${tileName}]` : 'gemm', shape: `${M}x${N}x${K} ${tag}`,
    flops: 2 * M * N * K, bytes: 4 * (M * K + K * N + M * N),
    prepare(rt, exact) {
      const A = randomData(M * K, 1), B = randomData(K * N, 2);
      const a = rt.upload(A), b = rt.upload(B);
      const aAt = (m: number, k: number) => (transA ? A[k * M + m] : A[m * K + k]);
      const bAt = (k: number, n: number) => (transB ? B[n * K + k] : B[k * N + n]);
      return {
        inputs: [a, b],
        run: () => [gemm(rt, { a, b, batch: 1, M, N, K, transA, transB }, { tile })],
        check: ([c]) => exact
          ? compareCpu(rt, c, M * N, cpu().matmul(cpuRaw(A, transA ? [K, M] : [M, K]), cpuRaw(B, transB ? [N, K] : [K, N]), transA, transB))
          : compareSampled(rt, c, M * N, 3, (i) => {
            const m = Math.floor(i / N), n = i % N;
            let s = 0;
            for (let k = 0; k < K; k++) s += aAt(m, k) * bAt(k, n);
            return s;
          }),
      };
    },
  };
}

interface ConvShape { name: string; N: number; H: number; W: number; C: number; Co: number; k: number; s: number; p: number }

/**
 * Forward, backward-data and backward-weight of one convolution shape. `variants: false` keeps
 * only the default paths (what training runs); `dx: false` drops the backward-data rows (a
 * network's first convolution: nothing needs the image's gradient).
 */
function convCases(c: ConvShape, o: { variants?: boolean; dx?: boolean } = {}): Case[] {
  const withVariants = o.variants ?? true;
  const Ho = convOutSize(c.H, c.k, c.s, c.p), Wo = convOutSize(c.W, c.k, c.s, c.p);
  const xShape = [c.N, c.H, c.W, c.C], wShape = [c.Co, c.C, c.k, c.k], yShape = [c.N, Ho, Wo, c.Co];
  const nx = c.N * c.H * c.W * c.C, nw = c.Co * c.C * c.k * c.k, ny = c.N * Ho * Wo * c.Co;
  const p: Conv2dParams = { stride: [c.s, c.s], pad: [c.p, c.p] };
  const flops = 2 * c.N * Ho * Wo * c.Co * c.C * c.k * c.k;
  const shape = `${c.name} ${c.N}x${c.H}x${c.W}x${c.C} k${c.k} s${c.s} →${c.Co}`;
  const data = () => ({ get X() { return randomData(nx, 11); }, get Wt() { return randomData(nw, 12); }, get G() { return randomData(ny, 13); } });
  // '.norm' rows: the input batch-normalised (then ReLU) in the operand reads, as the op after a
  // residual block's bn1 / bn2 runs it; the reference convolves the map normalised on the host.
  const normTerms = (() => {
    const mean = randomData(c.C, 14), invstd = randomData(c.C, 15).map((v) => 0.5 + Math.abs(v));
    const gamma = randomData(c.C, 16).map((v) => 1 + 0.5 * v), beta = randomData(c.C, 17).map((v) => 0.5 * v);
    const apply = (X: Float32Array) => X.map((v, i) => { const ci = i % c.C; return Math.max(0, (v - mean[ci]) * (invstd[ci] * gamma[ci]) + beta[ci]); });
    const upload = (rt: GpuRuntime): InputNorm => {
      const r = (a: Float32Array): Raw => ({ storage: rt.upload(a), shape: [c.C], dtype: 'f32' });
      return { mean: r(mean), invstd: r(invstd), gamma: r(gamma), beta: r(beta), relu: true };
    };
    return { apply, upload };
  })();
  const withNorm = (rt: GpuRuntime, opts: ConvOptions): ConvOptions => (opts.normInReads ? { ...opts, inputNorm: normTerms.upload(rt) } : opts);
  const inputFor = (X: Float32Array, opts: ConvOptions) => (opts.normInReads ? normTerms.apply(X) : X);
  const normStorages = (o: ConvOptions) => (o.inputNorm ? [o.inputNorm.mean, o.inputNorm.invstd, o.inputNorm.gamma!, o.inputNorm.beta!].map((r) => r.storage as GpuStorage) : []);
  // Beside each default path: the forward with batch-norm statistics in its epilogue, strided
  // backward-data through the phase-class kernel, and (for k×k convolutions whose patch matrix
  // fits in 1 GiB) forward and weight gradient through an explicit im2col + GEMM, so one GPU run
  // can compare the paths.
  const variants = (kernel: string, extra: [string, ConvOptions][]): [string, ConvOptions][] =>
    [[kernel, {}], ...(withVariants ? extra : []).map(([suffix, opts]): [string, ConvOptions] => [kernel + suffix, opts])];
  const explicit: [string, ConvOptions][] = c.k > 1 && 4 * c.N * Ho * Wo * c.k * c.k * c.C <= 2 ** 30 ? [['.im2col', { path: 'im2col' }]] : [];
  // (.stats: the forward as training runs it before a batch norm; against .fwd, the epilogue's cost.)
  const norm: [string, ConvOptions][] = [['.norm', { normInReads: true }]];
  const fwdVariants = variants('conv2d.fwd', [['.stats', { columnStats: 1 }], ...norm, ...explicit]), dwVariants = variants('conv2d.dw', [...norm, ...explicit]);
  const dxVariants = o.dx === false ? [] : variants('conv2d.dx', c.s > 1 ? [['.phases', { path: 'implicit', phases: true }]] : []);
  const xAt = (X: Float32Array, n: number, h: number, w: number, ci: number) =>
    (h < 0 || w < 0 || h >= c.H || w >= c.W ? 0 : X[((n * c.H + h) * c.W + w) * c.C + ci]);
  return [
    ...fwdVariants.map(([kernel, opts]): Case => ({
      kernel, shape, flops, bytes: 4 * (nx + nw + ny),
      prepare(rt, exact) {
        const { X: X0, Wt } = data();
        const x = rt.upload(X0), w = rt.upload(Wt), X = inputFor(X0, opts), o = withNorm(rt, opts);
        const xr: Raw = { storage: x, shape: xShape, dtype: 'f32' }, wr: Raw = { storage: w, shape: wShape, dtype: 'f32' };
        return {
          inputs: [x, w, ...normStorages(o)],
          run: () => [conv2d(rt, xr, wr, null, p, o) as GpuStorage],
          check: ([y]) => exact ? compareCpu(rt, y, ny, cpu().conv2d(cpuRaw(X, xShape), cpuRaw(Wt, wShape), null, p))
            : compareSampled(rt, y, ny, 4, (i) => {
              const co = i % c.Co, pix = Math.floor(i / c.Co), ow = pix % Wo, oh = Math.floor(pix / Wo) % Ho, n = Math.floor(pix / (Wo * Ho));
              let s = 0;
              for (let kh = 0; kh < c.k; kh++) for (let kw = 0; kw < c.k; kw++) for (let ci = 0; ci < c.C; ci++) {
                s += xAt(X, n, oh * c.s - c.p + kh, ow * c.s - c.p + kw, ci) * Wt[((co * c.C + ci) * c.k + kh) * c.k + kw];
              }
              return s;
            }),
        };
      },
    })),
    ...dxVariants.map(([kernel, opts]): Case => ({
      kernel, shape, flops, bytes: 4 * (nx + nw + ny),
      prepare(rt, exact) {
        const { Wt, G } = data();
        const w = rt.upload(Wt), g = rt.upload(G);
        const gr: Raw = { storage: g, shape: yShape, dtype: 'f32' }, wr: Raw = { storage: w, shape: wShape, dtype: 'f32' };
        return {
          inputs: [w, g],
          run: () => [conv2dBackwardData(rt, gr, wr, xShape, p, opts) as GpuStorage],
          check: ([dx]) => exact ? compareCpu(rt, dx, nx, cpu().conv2dBackwardData(cpuRaw(G, yShape), cpuRaw(Wt, wShape), xShape, p))
            : compareSampled(rt, dx, nx, 5, (i) => {
              const ci = i % c.C, pix = Math.floor(i / c.C), iw = pix % c.W, ih = Math.floor(pix / c.W) % c.H, n = Math.floor(pix / (c.W * c.H));
              let s = 0;
              for (let kh = 0; kh < c.k; kh++) for (let kw = 0; kw < c.k; kw++) {
                const yh = ih + c.p - kh, yw = iw + c.p - kw;
                if (yh < 0 || yw < 0 || yh % c.s || yw % c.s) continue;
                const oh = yh / c.s, ow = yw / c.s;
                if (oh >= Ho || ow >= Wo) continue;
                for (let co = 0; co < c.Co; co++) s += G[((n * Ho + oh) * Wo + ow) * c.Co + co] * Wt[((co * c.C + ci) * c.k + kh) * c.k + kw];
              }
              return s;
            }),
        };
      },
    })),
    ...dwVariants.map(([kernel, opts]): Case => ({
      kernel, shape, flops, bytes: 4 * (nx + nw + ny),
      prepare(rt, exact) {
        const { X: X0, G } = data();
        const x = rt.upload(X0), g = rt.upload(G), X = inputFor(X0, opts), o = withNorm(rt, opts);
        const xr: Raw = { storage: x, shape: xShape, dtype: 'f32' }, gr: Raw = { storage: g, shape: yShape, dtype: 'f32' };
        return {
          inputs: [x, g, ...normStorages(o)],
          run: () => [conv2dBackwardWeight(rt, xr, gr, wShape, p, o) as GpuStorage],
          check: ([dw]) => exact ? compareCpu(rt, dw, nw, cpu().conv2dBackwardWeight(cpuRaw(X, xShape), cpuRaw(G, yShape), wShape, p))
            : compareSampled(rt, dw, nw, 6, (i) => {
              const kw = i % c.k, kh = Math.floor(i / c.k) % c.k, ci = Math.floor(i / (c.k * c.k)) % c.C, co = Math.floor(i / (c.k * c.k * c.C));
              let s = 0;
              for (let n = 0; n < c.N; n++) for (let oh = 0; oh < Ho; oh++) for (let ow = 0; ow < Wo; ow++) {
                s += G[((n * Ho + oh) * Wo + ow) * c.Co + co] * xAt(X, n, oh * c.s - c.p + kh, ow * c.s - c.p + kw, ci);
              }
              return s;
            }),
        };
      },
    })),
  ];
}

function bnCases(name: string, M: number, C: number): Case[] {
  const shape = `${name} [${M}, ${C}]`;
  const sums = (X: Float32Array, G: Float32Array | null, mu: Float32Array | null, is: Float32Array | null, c: number) => {
    let s1 = 0, s2 = 0;
    for (let m = 0; m < M; m++) {
      const v = X[m * C + c];
      if (G) { const g = G[m * C + c]; s1 += g; s2 += g * (v - mu![c]) * is![c]; } else { s1 += v; s2 += v * v; }
    }
    return [s1, s2];
  };
  const stats = (X: Float32Array) => {
    const mu = new Float32Array(C), is = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      let s = 0, q = 0;
      for (let m = 0; m < M; m++) s += X[m * C + c];
      const mean = s / M;
      for (let m = 0; m < M; m++) { const d = X[m * C + c] - mean; q += d * d; }
      mu[c] = mean; is[c] = 1 / Math.sqrt(q / M + 1e-5);
    }
    return { mu, is };
  };
  const raw = (s: GpuStorage, shape: number[]): Raw => ({ storage: s, shape, dtype: 'f32' });
  return [
    {
      kernel: 'bn.moments', shape, flops: 3 * M * C, bytes: 4 * M * C,
      prepare(rt, exact) {
        const X = randomData(M * C, 21).map((v) => v * 2 + 0.5);
        const x = rt.upload(X);
        const chans = exact ? Array.from({ length: C }, (_, c) => c) : sampleIndices(C, 22).slice(0, 8);
        return {
          inputs: [x],
          run: () => { const r = moments(rt, raw(x, [M, C])); return [r.mean as GpuStorage, r.variance as GpuStorage]; },
          check: async ([mean, variance]) => {
            const gm = await read(rt, mean, C), gv = await read(rt, variance, C);
            const pm: [number, number][] = [], pv: [number, number][] = [];
            for (const c of chans) {
              const [s1, s2] = sums(X, null, null, null, c);
              pm.push([gm[c], s1 / M]); pv.push([gv[c], s2 / M - (s1 / M) ** 2]);
            }
            return Math.max(relErr(pm), relErr(pv));
          },
        };
      },
    },
    {
      kernel: 'bn.normalize', shape, flops: 4 * M * C, bytes: 8 * M * C,
      prepare(rt, exact) {
        const X = randomData(M * C, 23), mu = randomData(C, 24), is = randomData(C, 25).map((v) => 1 + Math.abs(v));
        const ga = randomData(C, 26), be = randomData(C, 27);
        const x = rt.upload(X), m = rt.upload(mu), i = rt.upload(is), g = rt.upload(ga), b = rt.upload(be);
        return {
          inputs: [x, m, i, g, b],
          run: () => [normalize(rt, raw(x, [M, C]), raw(m, [C]), raw(i, [C]), raw(g, [C]), raw(b, [C])) as GpuStorage],
          check: ([y]) => compareSampled(rt, y, M * C, 28, (e) => { const c = e % C; return (X[e] - mu[c]) * is[c] * ga[c] + be[c]; }),
        };
      },
    },
    {
      kernel: 'bn.backward', shape, flops: 10 * M * C, bytes: 16 * M * C,
      prepare(rt, exact) {
        const X = randomData(M * C, 31), G = randomData(M * C, 32), ga = randomData(C, 33);
        const { mu, is } = exact ? stats(X) : { mu: randomData(C, 34).map((v) => v * 0.1), is: randomData(C, 35).map((v) => 1 + Math.abs(v)) };
        const x = rt.upload(X), g = rt.upload(G), m = rt.upload(mu), i = rt.upload(is), gg = rt.upload(ga);
        const chans = exact ? Array.from({ length: C }, (_, c) => c) : sampleIndices(C, 36).slice(0, 6);
        return {
          inputs: [x, g, m, i, gg],
          run: () => {
            const r = batchNormBackward(rt, raw(x, [M, C]), raw(g, [M, C]), raw(m, [C]), raw(i, [C]), raw(gg, [C]));
            return [r.dx as GpuStorage, r.dgamma as GpuStorage, r.dbeta as GpuStorage];
          },
          check: async ([dx, dgamma, dbeta]) => {
            const gdg = await read(rt, dgamma, C), gdb = await read(rt, dbeta, C), gdx = await read(rt, dx, M * C);
            const pg: [number, number][] = [], pb: [number, number][] = [], px: [number, number][] = [];
            const rows = sampleIndices(M, 37).slice(0, 16);
            for (const c of chans) {
              const [sdy, sdyx] = sums(X, G, mu, is, c);
              pg.push([gdg[c], sdyx]); pb.push([gdb[c], sdy]);
              for (const r of rows) {
                const e = r * C + c, xh = (X[e] - mu[c]) * is[c];
                px.push([gdx[e], (ga[c] * is[c] / M) * (M * G[e] - sdy - xh * sdyx)]);
              }
            }
            return Math.max(relErr(pg), relErr(pb), relErr(px));
          },
        };
      },
    },
  ];
}

/**
 * Plain elementwise passes over n floats: the bandwidth the simplest kernels reach, the yardstick
 * for batch norm and pooling (one thread per element, scalar loads).
 */
function elementwiseCases(name: string, n: number): Case[] {
  const raw = (s: GpuStorage): Raw => ({ storage: s, shape: [n], dtype: 'f32' });
  return [
    {
      kernel: 'ew.relu', shape: `${name} [${n}]`, flops: n, bytes: 8 * n,
      prepare(rt) {
        const X = randomData(n, 41);
        const x = rt.upload(X);
        return { inputs: [x], run: () => [unary(rt, 'relu', raw(x)) as GpuStorage], check: ([y]) => compareSampled(rt, y, n, 42, (i) => Math.max(X[i], 0)) };
      },
    },
    {
      kernel: 'ew.add', shape: `${name} [${n}]`, flops: n, bytes: 12 * n,
      prepare(rt) {
        const X = randomData(n, 43), Y = randomData(n, 44);
        const x = rt.upload(X), y = rt.upload(Y);
        return { inputs: [x, y], run: () => [binary(rt, 'add', raw(x), raw(y), [n]) as GpuStorage], check: ([z]) => compareSampled(rt, z, n, 45, (i) => X[i] + Y[i]) };
      },
    },
  ];
}

function poolCases(name: string, N: number, H: number, W: number, C: number): Case[] {
  const p: PoolParams = { kernel: [3, 3], stride: [2, 2], pad: [1, 1] };
  const Ho = convOutSize(H, 3, 2, 1), Wo = convOutSize(W, 3, 2, 1);
  const nx = N * H * W * C, ny = N * Ho * Wo * C;
  const shape = `${name} ${N}x${H}x${W}x${C} k3 s2`;
  const xShape = [N, H, W, C], yShape = [N, Ho, Wo, C];
  // Host max-pool with the CPU backend's tie rule (first maximum in window order).
  const hostPool = (X: Float32Array, o: number): [number, number] => {
    const c = o % C, pix = Math.floor(o / C), ow = pix % Wo, oh = Math.floor(pix / Wo) % Ho, n = Math.floor(pix / (Wo * Ho));
    let best = -Infinity, bi = -1;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      const h = oh * 2 - 1 + i, w = ow * 2 - 1 + j;
      if (h < 0 || w < 0 || h >= H || w >= W) continue;
      const v = X[((n * H + h) * W + w) * C + c];
      if (v > best || bi < 0) { best = v; bi = h * W + w; }
    }
    return [best, bi];
  };
  return [
    {
      kernel: 'maxpool.fwd', shape, flops: 9 * ny, bytes: 4 * (nx + 2 * ny),
      prepare(rt, exact) {
        const X = randomData(nx, 41);
        const x = rt.upload(X);
        return {
          inputs: [x],
          run: () => { const r = maxPool2d(rt, { storage: x, shape: xShape, dtype: 'f32' }, p); return [r.y as GpuStorage, r.argmax as GpuStorage]; },
          check: ([y]) => compareSampled(rt, y, ny, 42, (o) => hostPool(X, o)[0]),
        };
      },
    },
    {
      kernel: 'maxpool.bwd', shape, flops: 0, bytes: 4 * (nx + 2 * ny),
      prepare(rt, exact) {
        const X = randomData(nx, 43), G = randomData(ny, 44);
        const x = rt.upload(X), g = rt.upload(G);
        const fwd = maxPool2d(rt, { storage: x, shape: xShape, dtype: 'f32' }, p);
        const am: Raw = { storage: fwd.argmax, shape: yShape, dtype: 'i32' };
        return {
          inputs: [x, g, fwd.y as GpuStorage, fwd.argmax as GpuStorage],
          run: () => [maxPool2dBackward(rt, { storage: g, shape: yShape, dtype: 'f32' }, am, xShape) as GpuStorage],
          check: ([dx]) => compareSampled(rt, dx, nx, 45, (e) => {
            const c = e % C, pix = Math.floor(e / C), iw = pix % W, ih = Math.floor(pix / W) % H, n = Math.floor(pix / (W * H));
            let s = 0;
            for (let oh = 0; oh < Ho; oh++) {
              if (Math.abs(oh * 2 - 1 + 1 - ih) > 1) continue;
              for (let ow = 0; ow < Wo; ow++) {
                if (Math.abs(ow * 2 - 1 + 1 - iw) > 1) continue;
                const o = ((n * Ho + oh) * Wo + ow) * C + c;
                if (hostPool(X, o)[1] === ih * W + iw) s += G[o];
              }
            }
            return s;
          }),
        };
      },
    },
  ];
}

function cases(quick: boolean): Case[] {
  if (quick) {
    return [
      gemmCase(256, 256, 256), gemmCase(192, 160, 200, false, true), gemmCase(160, 192, 136, true, false),
      ...convCases({ name: 'stem', N: 2, H: 32, W: 32, C: 3, Co: 16, k: 7, s: 2, p: 3 }),
      ...convCases({ name: '3x3', N: 2, H: 16, W: 16, C: 32, Co: 32, k: 3, s: 1, p: 1 }),
      ...convCases({ name: '1x1', N: 2, H: 16, W: 16, C: 32, Co: 64, k: 1, s: 1, p: 0 }),
      ...convCases({ name: '3x3/2', N: 2, H: 16, W: 16, C: 32, Co: 32, k: 3, s: 2, p: 1 }),
      // Wide enough that software devices take the implicit-GEMM path too.
      ...convCases({ name: '3x3 c64', N: 2, H: 12, W: 12, C: 64, Co: 64, k: 3, s: 1, p: 1 }),
      ...convCases({ name: '3x3/2 c64', N: 2, H: 12, W: 12, C: 64, Co: 64, k: 3, s: 2, p: 1 }),
      ...bnCases('small', 2 * 16 * 16, 64),
      ...bnCases('wide', 64 * 32 * 32, 64),
      ...elementwiseCases('wide', 64 * 32 * 32 * 64),
      ...poolCases('small', 2, 32, 32, 16),
    ];
  }
  const B = 64;
  return [
    gemmCase(4096, 4096, 4096), gemmCase(4096, 4096, 4096, false, true), gemmCase(4096, 4096, 4096, true, false),
    // ResNet-50 (torchvision v1.5, 224 px, batch 64)
    ...convCases({ name: 'R50 stem', N: B, H: 224, W: 224, C: 3, Co: 64, k: 7, s: 2, p: 3 }),
    ...convCases({ name: 'R50 l1 3x3', N: B, H: 56, W: 56, C: 64, Co: 64, k: 3, s: 1, p: 1 }),
    ...convCases({ name: 'R50 l1 1x1', N: B, H: 56, W: 56, C: 64, Co: 256, k: 1, s: 1, p: 0 }),
    ...convCases({ name: 'R50 l2 3x3/2', N: B, H: 56, W: 56, C: 128, Co: 128, k: 3, s: 2, p: 1 }),
    ...convCases({ name: 'R50 l2 down 1x1/2', N: B, H: 56, W: 56, C: 256, Co: 512, k: 1, s: 2, p: 0 }),
    ...convCases({ name: 'R50 l4 3x3', N: B, H: 7, W: 7, C: 512, Co: 512, k: 3, s: 1, p: 1 }),
    // RF99-ResNet50 (no max-pool: stage 1 at 112², stage 4 at 14²)
    ...convCases({ name: 'RF99 l1 3x3', N: B, H: 112, W: 112, C: 64, Co: 64, k: 3, s: 1, p: 1 }),
    ...convCases({ name: 'RF99 l1 1x1', N: B, H: 112, W: 112, C: 64, Co: 256, k: 1, s: 1, p: 0 }),
    ...convCases({ name: 'RF99 l4 3x3', N: B, H: 14, W: 14, C: 512, Co: 512, k: 3, s: 1, p: 1 }),
    ...bnCases('R50 l1', B * 56 * 56, 256),
    ...elementwiseCases('R50 l1', B * 56 * 56 * 256),
    ...bnCases('RF99 l1', B * 112 * 112, 64),
    ...poolCases('R50 stem', B, 112, 112, 64),
  ];
}

/**
 * Every distinct convolution of a backbone (forward, backward-data, backward-weight; default
 * paths only) at `batch` images of `size`² px: the issue's per-layer target, measured layer by
 * layer at the stated batch. A row is named by the first layer of its shape and how many layers
 * have that shape ("layer1.1.conv1 (×2)").
 */
export function layerCases(arch: string, batch: number, size: number): Case[] {
  const input = [batch, size, size, 3];
  const { tracer } = traceModule(createBackbone(arch), input);
  const shapes = new Map<string, { first: string; count: number; shape: Omit<ConvShape, 'name'>; image: boolean }>();
  for (const r of tracer.rows) {
    if (r.op !== 'conv') continue;
    const [N, H, W, C] = r.inShape;
    const shape = { N, H, W, C, Co: r.outShape[3], k: r.kernel!, s: r.stride!, p: r.padding! };
    const key = JSON.stringify(shape);
    const seen = shapes.get(key);
    if (seen) seen.count++;
    else shapes.set(key, { first: r.name, count: 1, shape, image: r.inShape.every((d, i) => d === input[i]) });
  }
  return [...shapes.values()].flatMap((g) =>
    convCases({ name: `${arch} ${g.first}${g.count > 1 ? ` (×${g.count})` : ''}`, ...g.shape }, { variants: false, dx: !g.image }));
}

// ---------------------------------------------------------------- runner

const WARM_MS = 50;
const TIMED_BATCHES = 3;

async function timeCase(rt: GpuRuntime, c: Case, reps: number, exact: boolean): Promise<KernelBenchRow> {
  const prep = c.prepare(rt, exact);
  const first = prep.run(); // warm-up: compiles pipelines, faults in pool buffers
  const maxRelErr = await prep.check(first);
  for (const s of first) rt.release(s);
  const batch = (n: number) => rt.timeDispatches(() => { for (let r = 0; r < n; r++) for (const s of prep.run()) rt.release(s); });
  // The host-side check left the GPU idle, and an idle GPU drops its clocks: timed straight
  // away, a sub-millisecond kernel ran 2–5× slow on an H100 (bench/RESULTS.md). So first keep
  // it busy, untimed, for ≥ 50 ms of kernel time, then take the median of 3 timed batches.
  const t0 = performance.now();
  for (let n = 1, busy = 0; busy < WARM_MS && n <= 4096 && performance.now() - t0 < 2000; n *= 2) busy += (await batch(n)).ms;
  const means: number[] = [];
  for (let b = 0; b < TIMED_BATCHES; b++) means.push((await batch(reps)).ms / reps);
  for (const s of prep.inputs) rt.release(s);
  means.sort((a, b) => a - b);
  const per = means[Math.floor(TIMED_BATCHES / 2)];
  return {
    kernel: c.kernel, shape: c.shape, ms: per, spread: means[TIMED_BATCHES - 1] / Math.max(1e-12, means[0]),
    gflops: c.flops ? c.flops / per / 1e6 : null,
    gbps: c.bytes ? c.bytes / per / 1e6 : null,
    maxRelErr,
  };
}

/**
 * GEMM n³ (AB, ABᵀ, AᵀB) on this runtime under the heuristic's tiles: the reference rate that
 * `bench step --gemm-reference` sets each layer against. Checked exactly for n ≤ 512, sampled above.
 */
export async function timeGemmReference(rt: GpuRuntime, n: number, reps: number): Promise<KernelBenchRow[]> {
  const rows: KernelBenchRow[] = [];
  for (const [tA, tB] of [[false, false], [false, true], [true, false]] as const) rows.push(await timeCase(rt, gemmCase(n, n, n, tA, tB), reps, n <= 512));
  return rows;
}

function fmtRow(r: KernelBenchRow): string {
  const num = (v: number | null, d: number) => (v === null ? '—' : v.toFixed(d));
  return `${r.kernel.padEnd(22)} ${r.shape.padEnd(44)} ${r.ms.toFixed(3).padStart(9)} ms ` +
    `${num(r.gflops, 1).padStart(10)} GFLOP/s ${num(r.gbps, 1).padStart(8)} GB/s  err ${r.maxRelErr.toExponential(1)}` +
    (r.ofGemm !== undefined ? `  ${(100 * r.ofGemm).toFixed(0).padStart(3)}% of GEMM${r.ofGemm < LAYER_SHARE_OF_GEMM ? ' ✗' : ''}` : '') +
    (r.spread > 1.1 ? `  (batches ${r.spread.toFixed(2)}× apart)` : '');
}

export async function runKernelBench(opts: KernelBenchOptions): Promise<KernelBenchRow[]> {
  if ((opts.batch !== undefined || opts.size !== undefined) && !opts.layers) {
    throw new Error('bench kernels: --batch and --size size the --layers rows; the default rows have fixed shapes');
  }
  const handle = await createWebGpuBackend();
  if (!handle) throw new Error('bench kernels needs a WebGPU adapter (none found)');
  const rt = handle.runtime;
  const reps = opts.reps ?? (opts.quick ? 3 : 5);
  const say = (s: string) => { if (!opts.json) process.stdout.write(s + '\n'); };
  say(`device: ${handle.adapter.description || handle.adapter.device} (${handle.adapter.vendor}), reps ${reps}` +
    `${rt.features.has('timestamp-query') ? ', GPU timestamps' : ', wall time'}`);
  let list = opts.layers
    ? layerCases(opts.layers, opts.batch ?? (opts.quick ? 2 : 64), opts.size ?? (opts.quick ? 64 : 224))
    : cases(opts.quick);
  if (opts.sweep) {
    const n = opts.quick ? 512 : 4096;
    for (const [name, t] of Object.entries(GEMM_TILES)) {
      try { validateTile(rt, t, name); } catch (e) { say(`skip tile ${name}: ${(e as Error).message}`); continue; }
      list.push(gemmCase(n, n, n, false, false, t, name));
    }
  }
  if (opts.only) {
    const wanted = opts.only.split(/,(?! )/).filter((w) => w.length > 0);
    list = list.filter((c) => wanted.some((w) => `${c.kernel} ${c.shape}`.includes(w)));
  }
  const rows: KernelBenchRow[] = [];
  const emit = (row: KernelBenchRow) => {
    rows.push(row);
    say(fmtRow(row));
    // One JSON line per row as it finishes, so a run cut short keeps what it measured.
    if (opts.json) process.stdout.write(JSON.stringify(row) + '\n');
  };
  // The reference first, so every row can be set against it as it finishes.
  let best = 0;
  if (opts.gemmReference) {
    const ref = await timeGemmReference(rt, opts.gemmReference, reps);
    for (const row of ref) best = Math.max(best, row.gflops ?? 0);
    for (const row of ref) { row.ofGemm = (row.gflops ?? 0) / best; emit(row); }
  }
  let under = 0, rated = 0;
  for (const c of list) {
    try {
      const row = await timeCase(rt, c, reps, opts.quick);
      if (best > 0 && row.gflops !== null) {
        row.ofGemm = row.gflops / best;
        rated++;
        if (row.ofGemm < LAYER_SHARE_OF_GEMM) under++;
      }
      emit(row);
    } catch (e) {
      say(`${c.kernel} ${c.shape}: FAILED ${(e as Error).message}`);
      if (opts.json) process.stderr.write(`${c.kernel} ${c.shape}: ${(e as Error).message}\n`);
    }
  }
  if (best > 0) {
    say(`${under} of ${rated} rows under ${100 * LAYER_SHARE_OF_GEMM}% of the best GEMM ${opts.gemmReference}³ rate ` +
      `(${best.toFixed(1)} GFLOP/s: under ${(LAYER_SHARE_OF_GEMM * best).toFixed(1)})`);
  }
  handle.destroy();
  return rows;
}

// Standalone: node dist/bench/kernels.js [--quick] [--json] [--sweep] [--only S] [--reps N]
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const a = process.argv.slice(2);
  const val = (f: string) => { const i = a.indexOf(f); return i >= 0 ? a[i + 1] : undefined; };
  runKernelBench({
    quick: a.includes('--quick'), json: a.includes('--json'), sweep: a.includes('--sweep'),
    only: val('--only'), reps: val('--reps') ? Number(val('--reps')) : undefined,
  }).then(() => process.exit(0), (e) => { process.stderr.write(`bench kernels: ${(e as Error).message}\n`); process.exit(1); });
}
