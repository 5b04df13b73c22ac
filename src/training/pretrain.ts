// The pretraining loop: views on the device, one recorded step (forward, backward, optimiser,
// EMA) per batch, read-back only at logging time, checkpoints that a killed run resumes from.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Backend } from '../backend/backend.js';
import { describeBackend, initBackend, webgpu } from '../backend/registry.js';
import { tuneGemmTiles } from '../backend/webgpu/ops/gemm_tuner.js';
import { gemmTuning, loadGemmTuning, measuredHere, saveGemmTuning, setGemmTuning, type GemmTuningTable } from '../backend/webgpu/ops/gemm_tuning.js';
import { Tensor, tidy, keep, outsideScopes } from '../tensor.js';
import { backward, noGrad, add, tensor, writeValues, zeros } from '../ops/index.js';
import { manualSeed } from '../nn/init.js';
import { Rng } from '../runtime/rng.js';
import { createMethod, type SslMethod } from '../methods/index.js';
import { loadTrainingData, type TrainingData } from './data.js';
import type { PretrainConfig } from './config.js';
import { Optimizer } from './optim.js';
import { FlatBuffer } from './flat.js';
import { emaTau, warmupCosine } from './schedule.js';
import { OnlineProbes, correctCount } from './probe.js';
import { MetricsLog, writeJsonAtomic } from './metrics.js';
import { loadCheckpoint, readRunState, saveCheckpoint } from './checkpoint.js';
import { PARAM_STRIDE, byolViews, evalView, multiCropView, sampleParams, type ViewSpec } from '../data/augment_params.js';
import { StepReplay } from './step_replay.js';
import type { StepMemoryStats } from '../backend/webgpu/memory_plan.js';
import { augmentBatch, evalBatch } from '../data/augment.js';
import { Progress } from '../util/progress.js';

export interface PretrainOptions {
  resume?: boolean;
  /** Stop after this many global steps (tests of resume; a real run uses epochs). */
  maxSteps?: number;
  quiet?: boolean;
  /** Called with each logged step record (tests). */
  onLog?: (record: Record<string, number>) => void;
}

export interface Summary {
  method: string;
  arch: string;
  epochs: number;
  steps: number;
  onlineProbeAcc: number;
  patchProbeAcc: number | null;
  imagesPerSecond: number;
  /** Peak device bytes held (live tensors and a step plan's buffers: with replay, about the footprint). */
  peakGpuBytes: number | null;
  /** Every buffer the pool created by the end: the device footprint (what nvidia-smi counts, less Dawn's own). */
  allocatedGpuBytes: number | null;
  /** Steps of this invocation replayed from a recorded one, and recorded (step_replay.ts). */
  stepReplay: { replayed: number; recorded: number };
  /** How the steps' buffers were planned (webgpu/memory_plan.ts); null when they were not (CPU, COENGINE_MEMORY_PLAN=0). */
  memoryPlan: StepMemoryStats | null;
  backend: string;
  device: string;
  finalEval?: { trained: number; randomInit: number; rawPixels: number };
}

class NonFiniteLossError extends Error { override name = 'NonFiniteLossError'; }

/** Everything that lives for the whole run. */
export interface Run {
  cfg: PretrainConfig;
  backend: Backend;
  data: TrainingData;
  method: SslMethod;
  probes: OnlineProbes;
  optimizer: Optimizer;
  targetFlat: FlatBuffer | null;
  /** The online flat buffer's prefix aliasing the target's layout (EMA source). */
  onlinePrefix: Tensor | null;
  images: Tensor;
  testImages: Tensor;
  views: ViewSpec[];
  smallView: ViewSpec | null;
  eval: ViewSpec;
  augRng: Rng;
  shuffleRng: Rng;
  stepsPerEpoch: number;
  totalSteps: number;
  /** Replays recorded steps (cfg.stepReplay); see step_replay.ts. */
  replay: StepReplay;
  /** The tensors a step reads its per-step data from, written before it (made on first use). */
  inputs: StepInputs | null;
}

/** Per-step data as device tensors, so that a recorded step can be replayed with new values. */
interface StepInputs {
  idx: Tensor;
  labels: Tensor;
  /** Augmentation parameter rows per global view, then per small view. */
  views: Tensor[];
  small: Tensor[];
  tau: Tensor;
}

export async function pretrain(cfg: PretrainConfig, opts: PretrainOptions = {}): Promise<Summary> {
  if (!cfg.tuneGemm) return pretrainRun(cfg, opts);
  const before = gemmTuning(); // the run's table applies to the run only
  try { return await pretrainRun(cfg, opts); } finally { setGemmTuning(before); }
}

async function pretrainRun(cfg: PretrainConfig, opts: PretrainOptions): Promise<Summary> {
  const backend = await initBackend(cfg.device);
  mkdirSync(cfg.out, { recursive: true });
  const run = await setup(cfg, backend);
  const log = new MetricsLog(cfg.out);
  let step = 0, epoch = 0, stepInEpoch = 0, secondsBefore = 0;
  if (opts.resume) {
    const st = readRunState(cfg.out);
    await loadCheckpoint(cfg.out, st, runTensors(run));
    step = st.step; epoch = st.epoch; stepInEpoch = st.stepInEpoch; secondsBefore = st.seconds;
    run.augRng.setState(st.rng.aug); run.shuffleRng.setState(st.rng.shuffle);
    run.optimizer.stepCount = st.optimizerSteps.main; run.probes.optimizer.stepCount = st.optimizerSteps.probe;
    if (!opts.quiet) process.stderr.write(`resuming ${cfg.out} at step ${step} (epoch ${epoch + 1}, step ${stepInEpoch} of it)\n`);
  } else {
    log.write({ type: 'config', config: cfg, backend: backend.name });
  }
  if (cfg.tuneGemm) await tuneRunGemms(run, opts.quiet);
  const progress = new Progress(`${cfg.method} ${cfg.arch}`, run.totalSteps, { enabled: !opts.quiet, unit: 'step' });
  progress.update(step);
  const t0 = Date.now();
  let lastLogTime = Date.now(), lastLogStep = step;
  let pending: { step: number; epoch: number; scalars: Record<string, Tensor>; host: Record<string, number> } | null = null;
  let peak = 0;
  const stopAt = Math.min(run.totalSteps, opts.maxSteps ?? Infinity);

  const checkpoint = async () => {
    await flushLog(); // the step a checkpoint ends with is logged: its loss is checked first
    await saveCheckpoint(cfg.out, runTensors(run), {
      step, epoch, stepInEpoch, rng: { aug: run.augRng.getState(), shuffle: run.shuffleRng.getState() },
      optimizerSteps: { main: run.optimizer.stepCount, probe: run.probes.optimizer.stepCount },
      config: cfg, seconds: secondsBefore + (Date.now() - t0) / 1000,
    });
  };

  /**
   * Read back the pending scalars of a logged step, log them, and stop on NaN/Inf. Called one
   * step late (after the next step is submitted), so the device never waits for the host.
   */
  const flushLog = async (): Promise<void> => {
    if (!pending) return;
    const { scalars, host, step: at, epoch: ep } = pending;
    pending = null;
    const rec: Record<string, number> = { step: at, epoch: ep + 1 };
    // A method may report one tensor under two names (BYOL: loss is lossGlobal): read each once.
    const values = new Map<Tensor, number>();
    for (const [k, t] of Object.entries(scalars)) {
      if (!values.has(t)) values.set(t, await t.item());
      rec[k] = values.get(t)!;
    }
    for (const t of values.keys()) t.dispose();
    Object.assign(rec, host);
    const now = Date.now();
    rec.imagesPerSecond = ((at - lastLogStep) * cfg.batchSize) / Math.max(1e-3, (now - lastLogTime) / 1000);
    lastLogTime = now; lastLogStep = at;
    for (const k of Object.keys(rec)) if (k.endsWith('ProbeCorrect')) { rec[k.replace('Correct', 'Acc')] = rec[k] / cfg.batchSize; delete rec[k]; }
    const mem = backend.memoryStats?.();
    if (mem) { rec.gpuBytes = mem.bytesInUse; peak = Math.max(peak, mem.peakBytesInUse); }
    if (!Number.isFinite(rec.loss)) {
      throw new NonFiniteLossError(`loss became ${rec.loss} at step ${at} (epoch ${ep + 1}); stopping. ` +
        `The last good checkpoint in ${cfg.out} is kept; lower --lr or check the data.`);
    }
    log.write({ type: 'step', ...rec });
    opts.onLog?.(rec);
  };

  let lastAcc = { global: 0, patch: null as number | null };
  try {
    while (step < stopAt) {
      const order = epochOrder(run, epoch);
      for (; stepInEpoch < run.stepsPerEpoch && step < stopAt; stepInEpoch++) {
        const ids = order.subarray(stepInEpoch * cfg.batchSize, (stepInEpoch + 1) * cfg.batchSize);
        const lr = warmupCosine(step, run.totalSteps, cfg.lr * cfg.batchSize / 256, cfg.warmupEpochs * run.stepsPerEpoch);
        const probeLr = warmupCosine(step, run.totalSteps, cfg.probeLr * cfg.batchSize / 256, cfg.warmupEpochs * run.stepsPerEpoch);
        const tau = emaTau(step, run.totalSteps, run.method.tauBase);
        // Steps that end in a checkpoint (every N steps, an epoch's end, the last) are logged too:
        // their loss is read and checked before the checkpoint is written.
        const logNow = (step + 1) % cfg.logEvery === 0 || step + 1 === stopAt || (step + 1) % cfg.checkpointEvery === 0 ||
          stepInEpoch + 1 === run.stepsPerEpoch;
        const scalars = trainStep(run, ids, { step, lr, probeLr, tau });
        step++;
        progress.update(step);
        await flushLog(); // the previous logged step's, read while this one runs
        if (logNow) {
          // lr and τ are the host's own numbers: no upload (which would shift the next step's buffers)
          pending = { step, epoch, scalars, host: { lr, tau } };
        } else for (const t of Object.values(scalars)) t.dispose();
        if (step % cfg.checkpointEvery === 0) await checkpoint();
      }
      if (stepInEpoch >= run.stepsPerEpoch) {
        await flushLog();
        lastAcc = await evaluateProbes(run);
        log.write({ type: 'epoch', epoch: epoch + 1, step, onlineProbeAcc: lastAcc.global, patchProbeAcc: lastAcc.patch });
        if (!opts.quiet) process.stderr.write(`\nepoch ${epoch + 1}: probe acc ${(100 * lastAcc.global).toFixed(1)}%` + (lastAcc.patch !== null ? `, patch ${(100 * lastAcc.patch).toFixed(1)}%` : '') + '\n');
        epoch++; stepInEpoch = 0;
        await checkpoint();
      }
    }
  } finally {
    progress.finish();
  }
  if (stepInEpoch !== 0) { await checkpoint(); lastAcc = await evaluateProbes(run); }
  const seconds = secondsBefore + (Date.now() - t0) / 1000;
  const summary: Summary = {
    method: cfg.method, arch: cfg.arch, epochs: cfg.epochs, steps: step,
    onlineProbeAcc: lastAcc.global, patchProbeAcc: lastAcc.patch,
    imagesPerSecond: (step * cfg.batchSize) / Math.max(seconds, 1e-3),
    peakGpuBytes: backend.memoryStats ? peak : null, allocatedGpuBytes: backend.memoryStats?.().bytesAllocated ?? null,
    stepReplay: { replayed: run.replay.stats.replayed, recorded: run.replay.stats.recorded },
    memoryPlan: run.replay.memoryStats ? { ...run.replay.memoryStats } : null, backend: backend.name, device: (await describeBackend(backend)).device,
  };
  if (cfg.finalEval && step >= run.totalSteps) {
    const { finalLinearEval } = await import('./final_eval.js');
    summary.finalEval = await finalLinearEval(run.method, run.data, run.eval, cfg, backend, { quiet: opts.quiet });
  }
  writeJsonAtomic(path.join(cfg.out, 'summary.json'), summary);
  return summary;
}

/** The run directory's GEMM tuning table (pretrain --tune-gemm). */
export const GEMM_TUNING_FILE = 'gemm-tuning.json';

/**
 * A GEMM tuning table's workload for this run's step: everything that sets the step's GEMM shapes
 * (a table for other shapes would match no site). pretrain --tune-gemm reuses a table only for
 * the same; bench step --tune writes the same. The leading version changes when the engine routes
 * some product to other GEMM sites (2: the stem's weight gradient through space-to-depth), so
 * that a table made before is re-tuned rather than silently missing those sites.
 */
export function gemmWorkload(run: Run): string {
  const { cfg } = run;
  return `sites v2: ${cfg.method} ${cfg.arch} ×${cfg.width}${cfg.smallStem ? ' small stem' : ''} batch ${cfg.batchSize}, ` +
    `${cfg.imageSize || run.data.train.shape[0]} px, heads ${cfg.projHidden}/${cfg.predHidden}/${cfg.projOut}×${cfg.projLayers}, ` +
    `local grid ${cfg.localGrid}, ${cfg.smallCrops} small crops of ${cfg.smallSize || 'default'} px`;
}

/**
 * --tune-gemm: use the run directory's table if it was measured on this adapter for this
 * workload, else tune the run's own step on its first batch and save the table there. The tuning
 * steps train (at zero learning rate, τ = 1, but momentum and batch-norm statistics move):
 * everything a checkpoint holds (copied to the host, not the device: a run that fits the GPU with
 * no room to spare still does), the random generators, the optimisers' step counts and the replay
 * counters are put back afterwards.
 */
async function tuneRunGemms(run: Run, quiet?: boolean): Promise<void> {
  const say = (m: string) => { if (!quiet) process.stderr.write(`${m}\n`); };
  const gpu = run.backend.name === 'webgpu' ? await webgpu() : null;
  if (!gpu) { say('--tune-gemm: the CPU backend has no GEMM tiles to tune'); return; }
  if (!gpu.runtime.features.has('timestamp-query')) { say('--tune-gemm: this adapter has no GPU timestamps to tune with; training on the heuristic\'s tiles'); return; }
  const { cfg } = run;
  const workload = gemmWorkload(run);
  const file = path.join(cfg.out, GEMM_TUNING_FILE);
  if (existsSync(file)) {
    let t: GemmTuningTable | null = null;
    try { t = loadGemmTuning(file); } catch (e) { say(`${(e as Error).message}: tuning again`); }
    if (t && measuredHere(t, gpu.runtime) && t.workload === workload) {
      setGemmTuning(t);
      say(`GEMM tiles from ${file} (${Object.keys(t.sites).length} shapes tuned)`);
      return;
    }
    if (t) say(`${file} was measured for ${t.workload} on ${t.device}: tuning again`);
  }
  const ids = Int32Array.from({ length: cfg.batchSize }, (_, i) => i);
  const step = async () => {
    const scalars = trainStep(run, ids, { step: 0, lr: 0, probeLr: 0, tau: 1 });
    await scalars.loss.item();
    for (const t of new Set(Object.values(scalars))) t.dispose();
  };
  const tensors = [...runTensors(run).values()];
  const saved = await Promise.all(tensors.map((t) => t.data()));
  const rng = { aug: run.augRng.getState(), shuffle: run.shuffleRng.getState() };
  const counts = { main: run.optimizer.stepCount, probe: run.probes.optimizer.stepCount };
  const replayStats = { ...run.replay.stats };
  let r: Awaited<ReturnType<typeof tuneGemmTiles>>;
  try {
    r = await tuneGemmTiles(gpu.runtime, step, workload);
  } finally {
    tensors.forEach((t, i) => writeValues(t, saved[i]));
    run.augRng.setState(rng.aug); run.shuffleRng.setState(rng.shuffle);
    run.optimizer.stepCount = counts.main; run.probes.optimizer.stepCount = counts.probe;
    run.replay.invalidate();
    Object.assign(run.replay.stats, replayStats);
    gpu.runtime.trimPool(); // the candidates' temporaries are not the run's footprint
  }
  saveGemmTuning(file, r.table);
  setGemmTuning(r.table);
  say(`GEMM tuning: ${Object.keys(r.table.sites).length} of ${r.measured} GEMM shapes take another tile ` +
    `(${r.heuristicMs.toFixed(1)} → ${r.tunedMs.toFixed(1)} GPU ms per step by the profiles); table in ${file}` +
    r.skipped.map((x) => `\n  skipped ${x}`).join(''));
}

/** Build everything a run needs (exported for `coengine bench step`, which passes its own data). */
export async function setup(cfg: PretrainConfig, backend: Backend, given?: TrainingData): Promise<Run> {
  const data = given ?? loadTrainingData({ source: cfg.data, seed: cfg.seed, trainCount: cfg.syntheticTrain, testCount: cfg.syntheticTest });
  const size = cfg.imageSize || data.train.shape[0];
  if (data.train.count < cfg.batchSize) throw new Error(`--batch-size ${cfg.batchSize} is larger than the ${data.train.count} training images of ${cfg.data}`);
  manualSeed(cfg.seed);
  const method = createMethod(cfg, backend);
  const feat = method.backbone.featureDim;
  const probeSpecs = [{ name: 'global', dim: feat }, ...(method.backbone.mlp ? [{ name: 'patch', dim: feat }] : [])];
  const probes = new OnlineProbes(backend, probeSpecs, data.classes.length, new Rng(cfg.seed + 1));
  const pairs = method.emaPairs();
  const paired = new Set(pairs.online.map(([, t]) => t));
  const rest = [...method.online.namedParameters()].filter(([, t]) => !paired.has(t));
  const optimizer = new Optimizer(backend, [...pairs.online, ...rest], { kind: cfg.optimizer, weightDecay: cfg.weightDecay, eta: cfg.eta });
  let targetFlat: FlatBuffer | null = null, onlinePrefix: Tensor | null = null;
  if (method.target && pairs.target.length) {
    targetFlat = new FlatBuffer(backend, pairs.target);
    // Same sizes in the same order ⇒ the same padded layout: the online prefix is the EMA source.
    onlinePrefix = outsideScopes(() => keep(new Tensor(backend, backend.view(optimizer.params.flat.storage, 0, targetFlat!.size, 'f32'), [targetFlat!.size], 'f32')));
  }
  const upload = (s: TrainingData['train']) => outsideScopes(() => keep(tensor(s.images, [s.count, ...s.shape], { backend, dtype: 'u8' })));
  const views = byolViews(size, cfg.cropMin, data.mean, data.std);
  const smallSize = cfg.smallSize || Math.max(8, Math.round((size * 96) / 224));
  const stepsPerEpoch = Math.floor(data.train.count / cfg.batchSize);
  return {
    cfg, backend, data, method, probes, optimizer, targetFlat, onlinePrefix,
    images: upload(data.train), testImages: upload(data.test),
    views, smallView: cfg.smallCrops > 0 ? multiCropView(smallSize, [0.05, cfg.cropMin], data.mean, data.std) : null,
    eval: evalView(size, data.mean, data.std),
    augRng: new Rng(cfg.seed + 2), shuffleRng: new Rng(cfg.seed + 3),
    stepsPerEpoch, totalSteps: stepsPerEpoch * cfg.epochs,
    replay: new StepReplay(backend, { enabled: cfg.stepReplay }), inputs: null,
  };
}

function stepInputs(run: Run, batch: number): StepInputs {
  if (run.inputs?.idx.shape[0] === batch) return run.inputs;
  if (run.inputs) for (const t of [run.inputs.idx, run.inputs.labels, ...run.inputs.views, ...run.inputs.small, run.inputs.tau]) t.dispose();
  run.replay.invalidate();
  const { backend, cfg } = run;
  const rows = () => zeros([batch * PARAM_STRIDE], { backend });
  run.inputs = outsideScopes(() => ({
    idx: keep(zeros([batch], { backend, dtype: 'i32' })),
    labels: keep(zeros([batch], { backend, dtype: 'i32' })),
    views: run.views.map(() => keep(rows())),
    small: run.smallView ? Array.from({ length: cfg.smallCrops }, () => keep(rows())) : [],
    tau: keep(zeros([1], { backend, dtype: run.targetFlat?.flat.dtype === 'f64' ? 'f64' : 'f32' })),
  }));
  return run.inputs;
}

/** The epoch's shuffled order; drawn from the shuffle RNG seeded per epoch, so resume redraws it. */
function epochOrder(run: Run, epoch: number): Int32Array {
  const rng = new Rng(run.cfg.seed * 1000003 + epoch);
  const order = Int32Array.from({ length: run.data.train.count }, (_, i) => i);
  rng.shuffle(order);
  return order;
}

/** All tensors a checkpoint holds, by name. */
export function runTensors(run: Run): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  for (const [k, t] of run.method.online.stateDict()) m.set(`online.${k}`, t);
  if (run.method.target) for (const [k, t] of run.method.target.stateDict()) m.set(`target.${k}`, t);
  for (const [n, h] of run.probes.heads) for (const [k, t] of h.stateDict()) m.set(`probe.${n}.${k}`, t);
  for (const [k, t] of run.optimizer.stateTensors()) m.set(`optimizer.${k}`, t);
  for (const [k, t] of run.probes.optimizer.stateTensors()) m.set(`probe_optimizer.${k}`, t);
  return m;
}

/**
 * One training step, recorded without any read-back (or replayed: step_replay.ts); returns
 * scalars for logging. First the host writes everything that differs between steps into the
 * step's input tensors (batch indices and labels, augmentation parameters, learning rates, τ);
 * the step itself reads only tensors, so once two steps record the same commands the rest are
 * replayed (methods write their own schedules' values: SslMethod.prepareStep).
 */
export function trainStep(run: Run, ids: Int32Array, s: { step: number; lr: number; probeLr: number; tau: number }): Record<string, Tensor> {
  const { backend, method } = run;
  const B = ids.length;
  const inp = stepInputs(run, B);
  const [h, w] = run.data.train.shape;
  writeValues(inp.idx, ids);
  writeValues(inp.labels, Int32Array.from(ids, (i) => run.data.train.labels[i]));
  const viewParams = run.views.map((spec, v) => { const p = sampleParams(run.augRng, B, h, w, spec); writeValues(inp.views[v], p); return p; });
  const smallParams = inp.small.map((t) => { const p = sampleParams(run.augRng, B, h, w, run.smallView!); writeValues(t, p); return p; });
  writeValues(inp.tau, [s.tau]);
  run.optimizer.prepare(s.lr);
  run.probes.optimizer.prepare(s.probeLr);
  const ctx = { step: s.step, totalSteps: run.totalSteps, stepsPerEpoch: run.stepsPerEpoch };
  method.prepareStep?.(ctx);
  const scalars = run.replay.run('', () => {
    const out = tidy(() => {
      const views = run.views.map((spec, v) => augmentBatch(run.images, inp.idx, viewParams[v], spec, inp.views[v]));
      const small = smallParams.map((p, k) => augmentBatch(run.images, inp.idx, p, run.smallView!, inp.small[k]));
      const fwd = method.forward(views, small, ctx);
      const feats: Record<string, Tensor> = { global: fwd.features.global };
      if (fwd.features.mlp) feats.patch = fwd.features.pooled;
      const probe = run.probes.forward(feats, inp.labels);
      backward(add(fwd.loss, probe.loss));
      return { loss: fwd.loss, ...fwd.parts, ...probe.parts };
    });
    noGrad(() => {
      run.optimizer.record();
      run.probes.optimizer.record();
      if (run.targetFlat && run.onlinePrefix) backend.emaUpdate(run.targetFlat.flat, run.onlinePrefix, inp.tau);
    });
    return out;
  });
  backend.submit?.(); // one submit per step: the device runs it while the next one is recorded
  return scalars;
}

/** Online-probe accuracy on the test split (eval-mode backbone, deterministic eval view). */
async function evaluateProbes(run: Run): Promise<{ global: number; patch: number | null }> {
  const { backend, method, probes, data } = run;
  run.replay.releaseMemory(); // its buffers back to the pool, for evaluation's batches (re-planned by the next steps)
  const bb = method.backbone;
  const wasTraining = bb.training;
  bb.eval();
  probes.train(false);
  const counts: Record<string, Tensor[]> = { global: [], patch: [] };
  const B = 256;
  for (let s = 0; s < data.test.count; s += B) {
    const n = Math.min(B, data.test.count - s);
    const c = tidy(() => noGrad(() => {
      const labels = tensor(data.test.labels.subarray(s, s + n), [n], { backend, dtype: 'i32' });
      const f = bb.forwardFeatures(evalBatch(run.testImages, s, n, run.eval));
      const r: Record<string, Tensor> = { global: correctCount(probes.heads.get('global')!.forward(f.global), labels) };
      if (probes.heads.has('patch')) r.patch = correctCount(probes.heads.get('patch')!.forward(f.pooled), labels);
      return r;
    }));
    for (const [k, t] of Object.entries(c)) counts[k].push(t);
  }
  bb.train(wasTraining);
  probes.train(true);
  const total = async (ts: Tensor[]) => { let a = 0; for (const t of ts) { a += await t.item(); t.dispose(); } return a / data.test.count; };
  return { global: await total(counts.global), patch: counts.patch.length ? await total(counts.patch) : null };
}
