// Step replay in the trainer: the same training steps with replay on and off give bit-identical
// losses and parameters on WebGPU (a replay issues the very commands a recording would), steps
// are in fact replayed, also through DINO's teacher-temperature warm-up (a schedule the method
// writes into a tensor before each step).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveConfig, type PretrainConfig } from '../../src/training/config.js';
import { pretrain, runTensors, setup, trainStep, type Run } from '../../src/training/pretrain.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadTrainingData } from '../../src/training/data.js';
import { gpuBackendOrSkip } from '../helpers/gpu.js';
import { StepReplay, type StepReplayOptions } from '../../src/training/step_replay.js';
import { overrideSoftwareDevice } from '../../src/backend/webgpu/ops/gemm.js';
import type { GpuContext } from '../../src/backend/webgpu/context.js';
import type { Backend } from '../../src/backend/backend.js';

const STEPS = 9;
// A plan forms once two steps in a row log the same work on the buffers later steps will have:
// those of the memory plan (webgpu/memory_plan.ts), which the second step's trace makes for the
// third. So steps 0 and 1 record on the pool, 2 and 3 on the memory plan, and 4 on are replayed.
const RECORDED_AT_MOST = 4;

async function train(be: Backend, cfg: Partial<PretrainConfig>, stepReplay: boolean, replayOptions?: StepReplayOptions, steps = STEPS) {
  const c = resolveConfig([{
    arch: 'rf29-resnet10', width: 1 / 16, smallStem: true, device: 'webgpu', data: 'synthetic', syntheticTrain: 16,
    syntheticTest: 8, epochs: 1, batchSize: 8, imageSize: 16, projHidden: 16, predHidden: 16, projOut: 8, dinoPrototypes: 16,
    finalEval: false, warmupEpochs: 0, ...cfg, stepReplay,
  }]);
  const data = loadTrainingData({ source: c.data, seed: c.seed, trainCount: c.syntheticTrain, testCount: c.syntheticTest });
  // An empty pool: how soon steps stop creating buffers (and so can be planned) depends on the
  // free buffers earlier tests of this process left behind (byol-mc needed 5 recorded steps after
  // the rest of the training/ folder had run, at most 4 alone or from an empty pool).
  (be as unknown as { runtime: { trimPool(): void } }).runtime.trimPool();
  const run: Run = await setup(c, be, data);
  // The reference records every step on the pool: no replay, no memory plan.
  if (!stepReplay) run.replay = new StepReplay(be, { enabled: false, memoryPlan: false, ...replayOptions });
  else if (replayOptions) run.replay = new StepReplay(be, { enabled: true, ...replayOptions });
  const held = [];
  for (let s = 0; s < steps; s++) {
    const ids = Int32Array.from({ length: 8 }, (_, i) => (s * 3 + i * 5) % 16); // a different batch each step
    // lr, probe lr and τ change every step, as their schedules do
    held.push(trainStep(run, ids, { step: s, lr: 0.05 + 0.01 * s, probeLr: 0.1 / (s + 1), tau: 0.9 + 0.01 * s }));
  }
  const losses: number[] = [], scalars: Record<string, number>[] = [];
  for (const h of held) {
    const r: Record<string, number> = {};
    for (const [k, t] of Object.entries(h)) r[k] = await t.item();
    for (const t of Object.values(h)) t.dispose(); // after reading: names may share a tensor
    losses.push(r.loss);
    scalars.push(r);
  }
  // everything a checkpoint holds: parameters, BN running statistics, optimiser states, DINO centres, probes
  const state = new Map<string, number[]>();
  for (const [k, t] of runTensors(run)) state.set(k, [...(await t.data())]);
  const memory = run.replay.memoryStats ? { ...run.replay.memoryStats } : null;
  run.replay.invalidate();
  return { losses, scalars, state, stats: { ...run.replay.stats }, memory };
}

function sameState(a: Map<string, number[]>, b: Map<string, number[]>): void {
  assert.equal([...a.keys()], [...b.keys()]);
  for (const [k, v] of a) assert.ok(v.every((x, i) => Object.is(x, b.get(k)![i])), `${k} differs`);
}

for (const method of ['co-byol', 'mocov3', 'byol-mc', 'dino'] as const) {
  test(`${method}: replayed steps are bit-identical to recorded ones`, async () => {
    const be = await gpuBackendOrSkip('step replay in training');
    if (!be) return;
    const cfg: Partial<PretrainConfig> = { method, dinoWarmupTeacherEpochs: 0 };
    const ref = await train(be, cfg, false);
    const got = await train(be, cfg, true);
    assert.is(ref.stats.replayed, 0);
    assert.is(ref.memory, null);
    assert.ok(got.stats.replayed >= STEPS - RECORDED_AT_MOST, `${got.stats.replayed} of ${STEPS} steps replayed`);
    // Replayed on the memory plan's buffers: planned from the second step, and kept to.
    assert.ok(got.memory && got.memory.built === 1 && got.memory.planned >= 2 && got.memory.diverged === 0, JSON.stringify(got.memory));
    assert.ok(new Set(got.losses).size === STEPS, `a different loss each step: ${got.losses}`);
    assert.equal(got.scalars, ref.scalars); // every logged scalar: losses, local losses, probe counts
    sameState(got.state, ref.state);
  });
}

test('co-byol with the code paths GPUs take (implicit-GEMM convolutions, split-K, LARS in parts): bit-identical too', async () => {
  const be = await gpuBackendOrSkip('step replay in training');
  if (!be) return;
  const rt = (be as unknown as { runtime: GpuContext }).runtime;
  overrideSoftwareDevice(rt, false);
  try {
    const cfg: Partial<PretrainConfig> = { method: 'co-byol', smallStem: false, imageSize: 32 }; // stem, max-pool, strided blocks
    const ref = await train(be, cfg, false);
    const got = await train(be, cfg, true);
    assert.ok(got.stats.replayed >= STEPS - RECORDED_AT_MOST, `${got.stats.replayed} of ${STEPS} steps replayed`);
    assert.equal(got.scalars, ref.scalars);
    sameState(got.state, ref.state);
  } finally {
    overrideSoftwareDevice(rt, null);
  }
});

test('steps of the trainer pass replay\'s periodic check (no value frozen into a plan)', async () => {
  const be = await gpuBackendOrSkip('step replay in training');
  if (!be) return;
  const warnings: string[] = [];
  for (const method of ['co-byol', 'dino'] as const) {
    const cfg: Partial<PretrainConfig> = { method, dinoWarmupTeacherEpochs: 10 };
    // Enough steps for two checks: each one records, and the plan then forms again.
    const ref = await train(be, cfg, false, undefined, 14);
    const got = await train(be, cfg, true, { checkEvery: 2, warn: (w) => warnings.push(`${method}: ${w}`) }, 14);
    assert.ok(got.stats.checks >= 2, `${method}: ${got.stats.checks} checks`);
    assert.equal(warnings, []);
    assert.equal(got.scalars, ref.scalars);
    sameState(got.state, ref.state);
  }
});

test('co-dino during its teacher-temperature warm-up replays too, and agrees', async () => {
  const be = await gpuBackendOrSkip('step replay in training');
  if (!be) return;
  // warm-up over 10 epochs of 2 steps: a new temperature every step
  const cfg: Partial<PretrainConfig> = { method: 'co-dino', dinoWarmupTeacherEpochs: 10, localGrid: 2 };
  const ref = await train(be, cfg, false);
  const got = await train(be, cfg, true);
  assert.ok(got.stats.replayed >= STEPS - RECORDED_AT_MOST, `${got.stats.replayed} of ${STEPS} steps replayed`);
  assert.equal(got.scalars, ref.scalars);
  sameState(got.state, ref.state);
});

test('pretrain() with and without step replay: the same metrics and checkpoint, through evaluation and resume', async () => {
  const be = await gpuBackendOrSkip('step replay in training');
  if (!be) return;
  const runOnce = async (stepReplay: boolean, stopAt?: number) => {
    const out = mkdtempSync(path.join(tmpdir(), 'coengine-replay-'));
    const cfg = resolveConfig([{
      method: 'co-byol', arch: 'rf29-resnet10', width: 1 / 16, smallStem: true, device: 'webgpu', data: 'synthetic',
      syntheticTrain: 40, syntheticTest: 8, epochs: 2, batchSize: 8, imageSize: 16, projHidden: 16, predHidden: 16, projOut: 8,
      finalEval: false, warmupEpochs: 1, logEvery: 2, checkpointEvery: 3, out, stepReplay,
    }]);
    const logs: Record<string, number>[] = [];
    const onLog = (r: Record<string, number>) => { const { imagesPerSecond: _i, gpuBytes: _g, ...rest } = r; logs.push(rest); };
    if (stopAt) await pretrain(cfg, { quiet: true, maxSteps: stopAt, onLog });
    const summary = await pretrain(cfg, { quiet: true, resume: stopAt !== undefined, onLog });
    const state = JSON.parse(readFileSync(path.join(out, 'state.json'), 'utf8'));
    return { logs, weights: readFileSync(path.join(out, state.checkpoint)), replayed: summary.stepReplay.replayed };
  };
  const ref = await runOnce(false);
  const got = await runOnce(true, 4); // stopped after 4 steps, resumed
  assert.ok(ref.logs.length >= 6, `${ref.logs.length} records`);
  assert.equal(got.logs, ref.logs);
  assert.ok(got.weights.equals(ref.weights), 'checkpoints differ');
  assert.is(ref.replayed, 0);
  assert.ok(got.replayed >= 2, `${got.replayed} of the resumed run's 6 steps replayed`);
});

test.run();
