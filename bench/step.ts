// `coengine bench step`: one full training step (augment, online forward/backward of both views,
// target forward, probes, optimiser, EMA) of a chosen method and model on random images.
// Reports ms/step, images/s, host encoding time, and peak device bytes.
import type { StepMemoryStats } from '../src/backend/webgpu/memory_plan.js';
import { memoryPeak, type MemoryPeakReport } from '../src/backend/webgpu/memory_report.js';
import type { GpuRuntime } from '../src/backend/webgpu/runtime.js';
import { initBackend, describeBackend, webgpu } from '../src/backend/registry.js';
import { resolveConfig, type PretrainConfig } from '../src/training/config.js';
import { gemmWorkload, setup, trainStep } from '../src/training/pretrain.js';
import type { TrainingData } from '../src/training/data.js';
import { Rng } from '../src/runtime/rng.js';
import type { Backend } from '../src/backend/backend.js';
import { overrideSoftwareDevice } from '../src/backend/webgpu/ops/gemm.js';
import { timeGemmReference } from './kernels.js';
import { accessSync, constants } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { tuneGemmTiles } from '../src/backend/webgpu/ops/gemm_tuner.js';
import { saveGemmTuning, setGemmTuning } from '../src/backend/webgpu/ops/gemm_tuning.js';

export interface StepBenchOptions {
  method: PretrainConfig['method'];
  arch: string;
  batch: number;
  size: number;
  width: number;
  steps: number;
  warmup: number;
  device: PretrainConfig['device'];
  projHidden: number;
  projOut: number;
  localGrid: number;
  smallStem: boolean;
  /** Also time every dispatch of one step by kernel (WebGPU with timestamp queries). */
  profile?: boolean;
  /** With profile: one row per full dispatch label (kernel and shapes, e.g. each conv layer). */
  profileShapes?: boolean;
  /**
   * On a CPU implementation of WebGPU (lavapipe), take the code paths chosen for GPUs: dispatch
   * counts and labels as a GPU would record them (its timings mean nothing).
   */
  gpuRouting?: boolean;
  /** Replay recorded steps (the trainer's default); false: record every step. */
  stepReplay?: boolean;
  /**
   * WebGPU: also time GEMM n³ (AB, ABᵀ, AᵀB) after the step, and give each profiled row that
   * declares work its rate as a share of the best of the three (the conv-layer target: ≥ 60%).
   */
  gemmReference?: number;
  /**
   * WebGPU: before the timed steps, tune the step's GEMM tiles (gemm_tuner.ts), write the table
   * to this file and time the steps with it.
   */
  tune?: string;
  /** Tiles the tuning tries (default: GPU_TUNING_CANDIDATES, or the barrier-free tiles on a CPU implementation). */
  tuneTiles?: string[];
  /** How much faster a candidate must be to enter the table (default 3%; tests: −∞ takes the best other tile everywhere). */
  tuneMargin?: number;
  /**
   * WebGPU with the memory plan: after the timed steps, record one more step noting where each
   * of its allocations was made, and report what it holds at its peak (memory_report.ts).
   */
  memoryPeak?: boolean;
}

export interface StepBenchResult {
  method: string; arch: string; batch: number; size: number; device: string;
  /** Each step awaited before the next is recorded (host and device time add up). */
  msPerStep: number; imagesPerSecond: number;
  /** Steps submitted back to back as in training, one read at the end (host overlaps device). */
  pipelinedMsPerStep: number; pipelinedImagesPerSecond: number;
  /** Median host time to record a step; as a fraction of the median rest of an awaited step (device time and read-back). */
  encodeMsPerStep: number; encodeFraction: number | null;
  /**
   * Peak bytes in use (live tensors, plus a step plan's buffers once one is adopted: replay holds
   * every buffer the step touched, so this rises to about allocatedBytes), and allocatedBytes,
   * every buffer the pool created: the device footprint, the same with and without replay.
   */
  peakBytes: number | null; allocatedBytes: number | null; buffersCreatedInSteadyState: number | null;
  /**
   * The recorded steps' memory plan (webgpu/memory_plan.ts; null when off: COENGINE_MEMORY_PLAN=0,
   * or the CPU backend): arenas built, steps run on one to their end or not, and the last arena's
   * bytes against the most its step holds at one time.
   */
  memoryPlan: StepMemoryStats | null;
  dispatchesPerStep: number | null;
  /** Timed steps that were replayed rather than recorded (training/step_replay.ts). */
  replayedSteps: number;
  /**
   * GPU ms per kernel over one step (with --profile; per kernel and shape with --profile-shapes),
   * largest first; flops: the rows' declared work (GEMMs, convolutions), 0 where none.
   */
  profile?: { name: string; ms: number; count: number; flops: number; ofGemm?: number }[];
  /**
   * With tune: the table's file, the sites (GEMM dispatch labels) measured and changed, and the
   * step's GEMM time by the profiles, GPU ms: under the heuristic's tiles and the table's.
   */
  tuning?: { file: string; candidates: string[]; skipped: string[]; sites: number; changed: number; heuristicMs: number; tunedMs: number };
  /** With gemmReference: the GEMM n³ rows and the best rate (TFLOP/s) the profile's ofGemm divides by. */
  gemmReference?: { n: number; rows: { shape: string; ms: number; tflops: number; maxRelErr: number }[]; bestTflops: number };
  /** With memoryPeak: the step's peak and what is live there, by origin. */
  memoryPeak?: MemoryPeakReport;
}

function randomData(n: number, size: number, classes: number): TrainingData {
  const rng = new Rng(1);
  const images = new Uint8Array(n * size * size * 3);
  for (let i = 0; i < images.length; i++) images[i] = rng.nextU32() & 255;
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  const set = { images, labels, count: n, shape: [size, size, 3] as [number, number, number] };
  return { name: 'random', classes: Array.from({ length: classes }, (_, i) => `c${i}`), train: set, test: set, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export async function runStepBench(o: StepBenchOptions): Promise<StepBenchResult> {
  const backend = await initBackend(o.device);
  const routed = o.gpuRouting && backend.name === 'webgpu' ? (await webgpu())!.runtime : null;
  if (routed) overrideSoftwareDevice(routed, false);
  try {
    return await stepBench(o, backend);
  } finally {
    if (routed) overrideSoftwareDevice(routed, null);
  }
}

async function stepBench(o: StepBenchOptions, backend: Backend): Promise<StepBenchResult> {
  if (o.memoryPeak && backend.name !== 'webgpu') throw new Error('bench step --memory-peak needs the WebGPU backend (the CPU backend has no step memory plan)');
  const cfg = resolveConfig([{ method: o.method, arch: o.arch, width: o.width, smallStem: o.smallStem, batchSize: o.batch, imageSize: o.size,
    projHidden: o.projHidden, predHidden: o.projHidden, projOut: o.projOut, localGrid: o.localGrid, device: o.device, epochs: 1,
    stepReplay: o.stepReplay ?? true }]);
  const run = await setup(cfg, backend, randomData(o.batch, o.size, 10));
  const ids = Int32Array.from({ length: o.batch }, (_, i) => i);
  const sched = (step: number) => ({ step, lr: 0.01, probeLr: 0.01, tau: 0.99 });
  let step = 0;
  /** One awaited step: host encoding ms and the rest (device time and read-back) ms. */
  const oneStep = async (): Promise<{ encode: number; rest: number }> => {
    const t0 = performance.now();
    const scalars = trainStep(run, ids, sched(step++));
    const encode = performance.now() - t0;
    const loss = await scalars.loss.item();
    const rest = performance.now() - t0 - encode;
    for (const t of Object.values(scalars)) t.dispose();
    if (!Number.isFinite(loss)) throw new Error(`bench step: loss is ${loss}`);
    return { encode, rest };
  };
  let tuning: StepBenchResult['tuning'];
  if (o.tune) {
    const gpu = backend.name === 'webgpu' ? await webgpu() : null;
    if (!gpu) throw new Error('bench step --tune needs the WebGPU backend');
    // Before a minute of profiling, not after it: can the table be written there?
    try { accessSync(dirname(resolve(o.tune)), constants.W_OK); } catch { throw new Error(`bench step --tune ${o.tune}: cannot write into ${dirname(resolve(o.tune))}`); }
    const r = await tuneGemmTiles(gpu.runtime, async () => { await oneStep(); }, gemmWorkload(run), o.tuneTiles, o.tuneMargin);
    saveGemmTuning(o.tune, r.table);
    setGemmTuning(r.table); // before the warm-up steps, so that the replayed plan has the table's tiles
    // The candidates' split-K temporaries: not part of the tuned steps' footprint.
    gpu.runtime.trimPool();
    tuning = { file: o.tune, candidates: r.table.candidates, skipped: r.skipped, sites: r.measured, changed: Object.keys(r.table.sites).length, heuristicMs: r.heuristicMs, tunedMs: r.tunedMs };
  }
  for (let i = 0; i < o.warmup; i++) await oneStep();
  const created0 = backend.memoryStats?.().buffersCreated ?? null;
  const timed: { encode: number; rest: number }[] = [];
  const replayed0 = run.replay.stats.replayed;
  const t0 = performance.now();
  for (let i = 0; i < o.steps; i++) timed.push(await oneStep());
  const ms = (performance.now() - t0) / o.steps;
  // Medians, not means: one step slowed by a garbage collection or a JIT tier-up says nothing
  // about the steady state (the first steps are warm-up: bind groups and pool fill).
  const encode = median(timed.map((t) => t.encode)), rest = median(timed.map((t) => t.rest));
  const replayedSteps = run.replay.stats.replayed - replayed0;
  // Read before the back-to-back steps, which hold every step's scalars until the end.
  const mem = backend.memoryStats?.();
  // As training runs it: steps submitted back to back, one read at the end, so the host records
  // step k+1 while the device runs step k.
  const tp = performance.now();
  const held: Record<string, { dispose(): void; item(): Promise<number> }>[] = [];
  for (let i = 0; i < o.steps; i++) {
    const scalars = trainStep(run, ids, sched(step++));
    held.push(scalars);
  }
  const lastLoss = await held[held.length - 1].loss.item();
  const pipelinedMs = (performance.now() - tp) / o.steps;
  for (const h of held) for (const t of Object.values(h)) t.dispose();
  if (!Number.isFinite(lastLoss)) throw new Error(`bench step: loss is ${lastLoss}`);
  const gpu = backend.name === 'webgpu' ? await webgpu() : null;
  let dispatchesPerStep: number | null = null;
  let profile: StepBenchResult['profile'];
  let gemmReference: StepBenchResult['gemmReference'];
  let memoryPeakReport: MemoryPeakReport | undefined;
  if (gpu) {
    const d0 = gpu.runtime.stats().dispatches;
    await oneStep();
    dispatchesPerStep = gpu.runtime.stats().dispatches - d0;
    if (o.profile || o.profileShapes) {
      const key = o.profileShapes ? (label: string) => label : undefined;
      profile = (await gpu.runtime.profileDispatches(async () => { await oneStep(); }, key)).rows;
    }
    if (o.memoryPeak) memoryPeakReport = await tracedPeak(gpu.runtime, run, oneStep);
    if (o.gemmReference) {
      const rows = (await timeGemmReference(gpu.runtime, o.gemmReference, 10)).map((r) => ({ shape: r.shape, ms: r.ms, tflops: (r.gflops ?? 0) / 1000, maxRelErr: r.maxRelErr }));
      const bestTflops = Math.max(...rows.map((r) => r.tflops));
      gemmReference = { n: o.gemmReference, rows, bestTflops };
      for (const p of profile ?? []) if (p.flops > 0 && p.ms > 0) p.ofGemm = p.flops / p.ms / 1e9 / bestTflops;
    }
  }
  return {
    dispatchesPerStep, profile, gemmReference, replayedSteps, tuning, memoryPeak: memoryPeakReport,
    method: o.method, arch: o.arch, batch: o.batch, size: o.size, device: (await describeBackend(backend)).device,
    msPerStep: ms, imagesPerSecond: (o.batch * 1000) / ms, encodeMsPerStep: encode,
    pipelinedMsPerStep: pipelinedMs, pipelinedImagesPerSecond: (o.batch * 1000) / pipelinedMs,
    // On the CPU backend the work happens while "encoding": there is no device time to compare.
    encodeFraction: backend.name === 'cpu' ? null : encode / Math.max(1e-9, rest),
    peakBytes: mem?.peakBytesInUse ?? null, allocatedBytes: mem?.bytesAllocated ?? null,
    memoryPlan: run.replay.memoryStats ? { ...run.replay.memoryStats } : null,
    buffersCreatedInSteadyState: created0 === null || !mem ? null : mem.buffersCreated - created0,
  };
}

/**
 * One more recorded step with each allocation's origin noted, and what it held at its peak.
 * Replay records nothing, so the step's plan is given up first (as evaluation does); the step
 * then runs on the arena rebuilt from the last trace, which the new trace should match.
 */
async function tracedPeak(rt: GpuRuntime, run: Awaited<ReturnType<typeof setup>>, oneStep: () => Promise<unknown>): Promise<MemoryPeakReport> {
  if (!run.replay.memoryStats) throw new Error('bench step --memory-peak: the step has no memory plan (COENGINE_MEMORY_PLAN=0?)');
  run.replay.releaseMemory();
  rt.traceOrigins = true;
  try { await oneStep(); } finally { rt.traceOrigins = false; }
  const trace = run.replay.lastMemoryTrace;
  if (!trace?.origins) throw new Error('bench step --memory-peak: the step was not traced');
  return memoryPeak(trace);
}
