// Step replay in the trainer: the same training steps with replay on and off give bit-identical
// losses and parameters on WebGPU (a replay issues the very commands a recording would), steps
// are in fact replayed, also through DINO's teacher-temperature warm-up (a schedule the method
// writes into a tensor before each step).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveConfig, type PretrainConfig } from '../../src/training/config.js';
import { setup, trainStep, type Run } from '../../src/training/pretrain.js';
import { loadTrainingData } from '../../src/training/data.js';
import { gpuBackendOrSkip } from '../helpers/gpu.js';
import type { Backend } from '../../src/backend/backend.js';

const STEPS = 9;

async function train(be: Backend, cfg: Partial<PretrainConfig>, stepReplay: boolean) {
  const c = resolveConfig([{
    arch: 'rf29-resnet10', width: 1 / 16, smallStem: true, device: 'webgpu', data: 'synthetic', syntheticTrain: 16,
    syntheticTest: 8, epochs: 1, batchSize: 8, imageSize: 16, projHidden: 16, predHidden: 16, projOut: 8, dinoPrototypes: 16,
    finalEval: false, warmupEpochs: 0, ...cfg, stepReplay,
  }]);
  const data = loadTrainingData({ source: c.data, seed: c.seed, trainCount: c.syntheticTrain, testCount: c.syntheticTest });
  const run: Run = await setup(c, be, data);
  const held = [];
  for (let s = 0; s < STEPS; s++) {
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
  const params = [...(await run.optimizer.params.flat.data())];
  const target = run.targetFlat ? [...(await run.targetFlat.flat.data())] : [];
  return { losses, scalars, params, target, stats: { ...run.replay.stats } };
}

for (const method of ['co-byol', 'mocov3', 'byol-mc', 'dino'] as const) {
  test(`${method}: replayed steps are bit-identical to recorded ones`, async () => {
    const be = await gpuBackendOrSkip('step replay in training');
    if (!be) return;
    const cfg: Partial<PretrainConfig> = { method, dinoWarmupTeacherEpochs: 0 };
    const ref = await train(be, cfg, false);
    const got = await train(be, cfg, true);
    assert.is(ref.stats.replayed, 0);
    assert.ok(got.stats.replayed >= STEPS - 3, `${got.stats.replayed} of ${STEPS} steps replayed`);
    assert.ok(new Set(got.losses).size === STEPS, `a different loss each step: ${got.losses}`);
    assert.equal(got.scalars, ref.scalars); // every logged scalar: losses, local losses, probe counts
    assert.ok(got.params.every((v, i) => Object.is(v, ref.params[i])), 'online parameters differ');
    assert.ok(got.target.every((v, i) => Object.is(v, ref.target[i])), 'target parameters differ');
  });
}

test('co-dino during its teacher-temperature warm-up replays too, and agrees', async () => {
  const be = await gpuBackendOrSkip('step replay in training');
  if (!be) return;
  // warm-up over 10 epochs of 2 steps: a new temperature every step
  const cfg: Partial<PretrainConfig> = { method: 'co-dino', dinoWarmupTeacherEpochs: 10, localGrid: 2 };
  const ref = await train(be, cfg, false);
  const got = await train(be, cfg, true);
  assert.ok(got.stats.replayed >= STEPS - 3, `${got.stats.replayed} of ${STEPS} steps replayed`);
  assert.equal(got.scalars, ref.scalars);
  assert.ok(got.target.every((v, i) => Object.is(v, ref.target[i])), 'teacher parameters differ');
});

test.run();
