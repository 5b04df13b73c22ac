// A run stopped after k steps and resumed reproduces the uninterrupted run's losses exactly;
// --tune-gemm leaves the run as it was; bad configuration and missing data give clear errors.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveConfig, type PretrainConfig } from '../../src/training/config.js';
import { GEMM_TUNING_FILE, pretrain } from '../../src/training/pretrain.js';
import { gemmTuning } from '../../src/backend/webgpu/ops/gemm_tuning.js';
import { gpuHandle } from '../helpers/gpu.js';

const tiny = (out: string, extra: Partial<PretrainConfig> = {}): PretrainConfig => resolveConfig([{
  method: 'co-byol', arch: 'rf29-resnet18', width: 1 / 16, smallStem: true, device: 'cpu', data: 'synthetic',
  syntheticTrain: 48, syntheticTest: 16, epochs: 2, batchSize: 8, imageSize: 16, projHidden: 16, predHidden: 16, projOut: 8,
  logEvery: 1, checkpointEvery: 100, finalEval: false, warmupEpochs: 1, out, ...extra,
}]);

const lossesOf = async (cfg: PretrainConfig, opts: Parameters<typeof pretrain>[1] = {}) => {
  const seen: Record<string, number>[] = [];
  await pretrain(cfg, { quiet: true, ...opts, onLog: (r) => seen.push(r) });
  return seen.map((r) => [r.step, r.loss, r.lossLocal, r.globalProbeLoss]);
};

test('stop after 5 steps, resume, and the losses match the uninterrupted run', async () => {
  const a = mkdtempSync(path.join(tmpdir(), 'coengine-full-'));
  const b = mkdtempSync(path.join(tmpdir(), 'coengine-resume-'));
  const full = await lossesOf(tiny(a));
  assert.is(full.length, 12);
  // metrics.jsonl: each logged step once, in order, and each epoch's record after its last step
  // (a step's scalars are read one step late, so the device never waits at a log step)
  const kinds = readFileSync(path.join(a, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    .filter((r) => r.type !== 'config').map((r) => (r.type === 'epoch' ? `e${r.epoch}` : `s${r.step}`));
  assert.equal(kinds, ['s1', 's2', 's3', 's4', 's5', 's6', 'e1', 's7', 's8', 's9', 's10', 's11', 's12', 'e2']);
  const first = await lossesOf(tiny(b), { maxSteps: 5 });
  assert.is(first.length, 5);
  const state = JSON.parse(readFileSync(path.join(b, 'state.json'), 'utf8'));
  assert.is(state.step, 5);
  assert.ok(existsSync(path.join(b, state.checkpoint)));
  const rest = await lossesOf(tiny(b), { resume: true });
  assert.equal([...first, ...rest], full);
  // one checkpoint file is kept, and metrics.jsonl has every step once per run segment
  assert.is(readdirSync(b).filter((f) => f.endsWith('.safetensors')).length, 1);
  const summary = JSON.parse(readFileSync(path.join(b, 'summary.json'), 'utf8'));
  assert.is(summary.steps, 12);
  assert.ok(summary.onlineProbeAcc >= 0 && summary.onlineProbeAcc <= 1);
});

test('--tune-gemm: the table lands in the run directory, training is as without it, and --resume reuses it', async () => {
  const h = await gpuHandle();
  if (!h || !h.runtime.features.has('timestamp-query')) return;
  const a = mkdtempSync(path.join(tmpdir(), 'coengine-untuned-'));
  const b = mkdtempSync(path.join(tmpdir(), 'coengine-tuned-'));
  const gpu = { device: 'webgpu' as const, epochs: 1 };
  // Two steps: a leak shows within them (with the restores removed, by hand: the augmentation
  // generator's moved the loss 0.5–14% at step 1, the tensors' 0.4–10% at step 2), while other
  // tiles' rounding, amplified by this tiny model's batch norm over 8 images, reached 5e-4 by
  // step 3 and 1e-2 by step 4 in some runs.
  const plain = await lossesOf(tiny(a, gpu), { maxSteps: 2 });
  const tuned = await lossesOf(tiny(b, { ...gpu, tuneGemm: true }), { maxSteps: 2 });
  const table = path.join(b, GEMM_TUNING_FILE);
  assert.ok(existsSync(table), 'the table is kept in the run directory');
  const written = readFileSync(table, 'utf8');
  // The ten tuning steps left nothing behind (weights, momentum, statistics, augmentation and
  // data-order generators): the same losses up to the rounding of other tiles.
  assert.is(tuned.length, plain.length);
  tuned.forEach((row, i) => row.forEach((v, j) => {
    if (j === 0) assert.is(v, plain[i][0]);
    else assert.ok(Math.abs(v - plain[i][j]) <= 1e-4 * Math.max(1, Math.abs(plain[i][j])), `step ${row[0]} column ${j}: ${v} vs ${plain[i][j]}`);
  }));
  assert.is(gemmTuning(), null, 'the run\'s table is dropped when the run ends');
  const rest = await lossesOf(tiny(b, { ...gpu, tuneGemm: true }), { resume: true });
  assert.ok(rest.length > 0);
  assert.is(readFileSync(table, 'utf8'), written, 'resume reuses the table instead of tuning again');
  // A new run in the same directory with another batch: the old table is for other shapes.
  await lossesOf(tiny(b, { ...gpu, tuneGemm: true, batchSize: 4 }), { maxSteps: 1 });
  assert.match(JSON.parse(readFileSync(table, 'utf8')).workload, /batch 4,/);
  writeFileSync(table, 'not json'); // a damaged table is measured again, not fatal
  await lossesOf(tiny(b, { ...gpu, tuneGemm: true, batchSize: 4 }), { maxSteps: 1 });
  assert.match(JSON.parse(readFileSync(table, 'utf8')).workload, /batch 4,/);
});

test('bad configuration values name the field', () => {
  assert.throws(() => tiny('/tmp/x', { batchSize: 1 }), /batchSize/);
  assert.throws(() => tiny('/tmp/x', { method: 'simclr' as PretrainConfig['method'] }), /method.*simclr.*co-byol/);
  assert.throws(() => tiny('/tmp/x', { arch: 'vit' }), /arch.*vit/);
  assert.throws(() => tiny('/tmp/x', { cropMin: 1.5 }), /cropMin/);
  assert.throws(() => tiny('/tmp/x', { tuneGemm: 'yes' as unknown as boolean }), /invalid tuneGemm: "yes" \(true or false\)/);
});

test('a missing dataset directory is a clear error', async () => {
  try {
    await pretrain(tiny(mkdtempSync(path.join(tmpdir(), 'coengine-nodata-')), { data: '/nonexistent/dataset' }), { quiet: true });
    assert.unreachable('should throw');
  } catch (e) {
    assert.match((e as Error).message, /\/nonexistent\/dataset/);
  }
});

test('--resume without a checkpoint says so', async () => {
  const d = mkdtempSync(path.join(tmpdir(), 'coengine-empty-'));
  try { await pretrain(tiny(d), { quiet: true, resume: true }); assert.unreachable('should throw'); } catch (e) {
    assert.match((e as Error).message, /state\.json does not exist/);
  }
});

test('a loss that becomes NaN stops the run with a clear message and keeps the last good checkpoint', async () => {
  const d = mkdtempSync(path.join(tmpdir(), 'coengine-nan-'));
  // First a healthy epoch (checkpoint at its end), then an absurd learning rate from a resumed
  // state makes the weights, and so the loss, non-finite.
  await pretrain(tiny(d, { epochs: 1 }), { quiet: true });
  const good = JSON.parse(readFileSync(path.join(d, 'state.json'), 'utf8'));
  try {
    await pretrain(tiny(d, { epochs: 3, lr: Infinity, optimizer: 'sgd', warmupEpochs: 0 }), { quiet: true, resume: true });
    assert.unreachable('should stop');
  } catch (e) {
    assert.match((e as Error).message, /loss became (NaN|Infinity|-Infinity) at step \d+.*last good checkpoint/);
  }
  const after = JSON.parse(readFileSync(path.join(d, 'state.json'), 'utf8'));
  assert.is(after.step, good.step, 'no checkpoint was written after the loss went bad');
  assert.ok(existsSync(path.join(d, good.checkpoint)));
});

test.run();
