// `coengine bench step`: one full training step (augment, online forward/backward of both views,
// target forward, probes, optimiser, EMA) of a chosen method and model on random images.
// Reports ms/step, images/s, host encoding time, and peak device bytes.
import { initBackend, describeBackend, webgpu } from '../src/backend/registry.js';
import { resolveConfig, type PretrainConfig } from '../src/training/config.js';
import { setup, trainStep } from '../src/training/pretrain.js';
import type { TrainingData } from '../src/training/data.js';
import { Rng } from '../src/runtime/rng.js';

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
}

export interface StepBenchResult {
  method: string; arch: string; batch: number; size: number; device: string;
  msPerStep: number; imagesPerSecond: number; encodeMsPerStep: number; encodeFraction: number | null;
  peakBytes: number | null; buffersCreatedInSteadyState: number | null;
  dispatchesPerStep: number | null;
  /** GPU ms per kernel over one step (with --profile), largest first. */
  profile?: { name: string; ms: number; count: number }[];
}

function randomData(n: number, size: number, classes: number): TrainingData {
  const rng = new Rng(1);
  const images = new Uint8Array(n * size * size * 3);
  for (let i = 0; i < images.length; i++) images[i] = rng.nextU32() & 255;
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  const set = { images, labels, count: n, shape: [size, size, 3] as [number, number, number] };
  return { name: 'random', classes: Array.from({ length: classes }, (_, i) => `c${i}`), train: set, test: set, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
}

export async function runStepBench(o: StepBenchOptions): Promise<StepBenchResult> {
  const backend = await initBackend(o.device);
  const cfg = resolveConfig([{ method: o.method, arch: o.arch, width: o.width, smallStem: o.smallStem, batchSize: o.batch, imageSize: o.size,
    projHidden: o.projHidden, predHidden: o.projHidden, projOut: o.projOut, localGrid: o.localGrid, device: o.device, epochs: 1 }]);
  const run = await setup(cfg, backend, randomData(o.batch, o.size, 10));
  const ids = Int32Array.from({ length: o.batch }, (_, i) => i);
  const sched = (step: number) => ({ step, lr: 0.01, probeLr: 0.01, tau: 0.99 });
  let step = 0;
  const oneStep = async (): Promise<number> => {
    const t0 = performance.now();
    const scalars = trainStep(run, ids, sched(step++));
    const encode = performance.now() - t0;
    const loss = await scalars.loss.item();
    for (const t of Object.values(scalars)) t.dispose();
    if (!Number.isFinite(loss)) throw new Error(`bench step: loss is ${loss}`);
    return encode;
  };
  for (let i = 0; i < o.warmup; i++) await oneStep();
  const created0 = backend.memoryStats?.().buffersCreated ?? null;
  let encode = 0;
  const t0 = performance.now();
  for (let i = 0; i < o.steps; i++) encode += await oneStep();
  const ms = (performance.now() - t0) / o.steps;
  const mem = backend.memoryStats?.();
  const gpu = backend.name === 'webgpu' ? await webgpu() : null;
  let dispatchesPerStep: number | null = null;
  let profile: StepBenchResult['profile'];
  if (gpu) {
    const d0 = gpu.runtime.stats().dispatches;
    await oneStep();
    dispatchesPerStep = gpu.runtime.stats().dispatches - d0;
    if (o.profile) profile = (await gpu.runtime.profileDispatches(async () => { await oneStep(); })).rows;
  }
  return {
    dispatchesPerStep, profile,
    method: o.method, arch: o.arch, batch: o.batch, size: o.size, device: (await describeBackend(backend)).device,
    msPerStep: ms, imagesPerSecond: (o.batch * 1000) / ms, encodeMsPerStep: encode / o.steps,
    // On the CPU backend the work happens while "encoding": there is no device time to compare.
    encodeFraction: backend.name === 'cpu' ? null : encode / o.steps / Math.max(1e-9, ms - encode / o.steps),
    peakBytes: mem?.peakBytesInUse ?? null,
    buffersCreatedInSteadyState: created0 === null || !mem ? null : mem.buffersCreated - created0,
  };
}
