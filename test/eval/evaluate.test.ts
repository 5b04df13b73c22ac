// The offline evaluation (`coengine eval`): linear probes, PGD's input gradients and attack
// geometry, internal masking, and a whole evaluation of a small pretrained run, end to end.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cpu } from '../../src/backend/registry.js';
import { createBackbone } from '../../src/models/presets.js';
import { manualSeed } from '../../src/nn/init.js';
import { Rng } from '../../src/runtime/rng.js';
import { tidy } from '../../src/tensor.js';
import { crossEntropy, grad, mul, noGrad, randn, sum, tensor } from '../../src/ops/index.js';
import { LinearProbe, type FeatureSet } from '../../src/eval/linear_probe.js';
import { extractFeatures, pickFeature } from '../../src/eval/features.js';
import { pgdBatch } from '../../src/eval/pgd.js';
import { freezeParameters } from '../../src/eval/input_grad.js';
import { maskingAccuracy } from '../../src/eval/robustness.js';
import { evaluate, EVAL_DEFAULTS, ANALYSES, type EvalRecord } from '../../src/eval/evaluate.js';
import { evalView } from '../../src/data/augment.js';
import { loadTrainingData } from '../../src/training/data.js';
import { resolveConfig } from '../../src/training/config.js';
import { pretrain } from '../../src/training/pretrain.js';
import { gradcheck, leaf } from '../helpers/gradcheck.js';
import { gpuBackendOrSkip } from '../helpers/gpu.js';
import { attackList, nameList } from '../../src/cli/commands/eval.js';

const be = cpu();

/** Two Gaussian blobs per class in `dim` dims, well separated. */
function blobs(n: number, dim: number, K: number, seed: number, shift = 0): FeatureSet {
  const rng = new Rng(seed);
  const x = new Float32Array(n * dim), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % K;
    for (let d = 0; d < dim; d++) x[i * dim + d] = 100 + shift + (d % K === y[i] ? 4 : 0) * 10 + rng.normal() * 3;
  }
  return { x, y, dim };
}

test('linear probe: separable features are classified, and its differentiable logits are the host standardisation\'s', async () => {
  const tr = blobs(120, 6, 3, 1), te = blobs(60, 6, 3, 2);
  const probe = LinearProbe.train(be, tr, 3, { epochs: 10, seed: 0 });
  const acc = await probe.trainTestAccuracy(tr, te);
  assert.is(acc.testAcc, 1);
  // Logits from raw features (PGD's path) equal the head applied to host-standardised ones.
  const raw = tensor(te.x.subarray(0, 5 * 6), [5, 6], { backend: be });
  const a = probe.logits(raw).dataSync();
  const b = noGrad(() => probe.head.forward(tensor(probe.standardize(te.x.subarray(0, 5 * 6)), [5, 6], { backend: be }))).dataSync();
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-4 * Math.max(1, Math.abs(b[i])), `logit ${i}: ${a[i]} vs ${b[i]}`);
  // A probe that never saw the shift still sees the classes; a wrong dimension is refused by name.
  assert.ok((await probe.accuracy(blobs(60, 6, 3, 3, 5))) > 0.9);
  await probe.accuracy(blobs(4, 5, 3, 3)).then(() => assert.unreachable('a 5-dim set was accepted'), (e) => assert.match(String(e), /5 dims, the probe takes 6/));
});

test('the input-pixel gradient through an eval-mode backbone matches finite differences (f64)', () => {
  manualSeed(3);
  const bb = createBackbone('rf29-resnet10', { width: 1 / 16, smallStem: true, backend: be, dtype: 'f64' });
  bb.eval();
  const x = leaf([1, 9, 9, 3], new Rng(5));
  assert.ok(gradcheck('backbone input', (t) => bb.forwardFeatures(t).global, [x]) < 1e-4);
});

/** A small backbone with a probe trained on its features, and the synthetic test images. */
async function probed(backend = be) {
  manualSeed(0);
  const bb = createBackbone('rf29-resnet10', { width: 1 / 16, smallStem: true, backend });
  const data = loadTrainingData({ source: 'synthetic', seed: 0, trainCount: 96, testCount: 32 });
  const view = evalView(16, data.mean, data.std);
  const tr = await extractFeatures(bb, data.train, view, backend, { kinds: ['pooled'] });
  const probe = LinearProbe.train(backend, tr.pooled, data.classes.length, { epochs: 20, seed: 0 });
  return { bb, data, view, probe };
}

test('PGD: adversarial pixels stay in the ε-ball and [0, 1], raise the loss, and ε = 0 changes nothing', async () => {
  const { bb, data, probe } = await probed();
  bb.eval();
  const n = 8;
  const rng = new Rng(1);
  const clean = tensor(Float32Array.from({ length: n * 16 * 16 * 3 }, () => rng.uniform(0, 1)), [n, 16, 16, 3], { backend: be });
  clean.dataSync().set([0, 1, 0.999, 0.001], 0); // pixels at the box's edges
  const labels = tensor(data.test.labels.subarray(0, n), [n], { backend: be, dtype: 'i32' });
  const scores = (p: ReturnType<typeof tensor>) => probe.logits(pickFeature(bb.forwardFeatures(p), 'pooled'));
  const thaw = freezeParameters(bb);
  const loss = (p: ReturnType<typeof tensor>) => tidy(() => noGrad(() => crossEntropy(scores(p), labels).dataSync()[0]));
  const base = loss(clean);
  for (const [eps, randomStart] of [[0.03, true], [0.03, false], [0, true]] as const) {
    const adv = pgdBatch(scores, clean, labels, { eps, step: eps / 4, iterations: 3 }, new Rng(2), randomStart);
    const a = adv.dataSync(), c = clean.dataSync();
    let worst = 0;
    for (let i = 0; i < a.length; i++) {
      assert.ok(a[i] >= 0 && a[i] <= 1, `pixel ${i} = ${a[i]} left [0, 1]`);
      worst = Math.max(worst, Math.abs(a[i] - c[i]));
    }
    assert.ok(worst <= eps + 1e-6, `moved ${worst} > ε ${eps}`);
    if (eps === 0) assert.is(loss(adv), base);
    else {
      assert.ok(worst > eps / 2, `ε ${eps}: the attack barely moved (${worst})`);
      if (!randomStart) assert.ok(loss(adv) > base, `ε ${eps}: loss ${loss(adv)} not above the clean ${base}`);
    }
    adv.dispose();
  }
  thaw();
  assert.ok(bb.parameters().every((p) => p.requiresGrad && !p.grad), 'the parameters are trainable again, with no gradient');
});

test('internal masking: dropping nothing is the unmasked accuracy; the drop count follows the share', async () => {
  const { bb, data, view, probe } = await probed();
  const te = await extractFeatures(bb, data.test, view, be, { kinds: ['pooled'] });
  const clean = await probe.accuracy(te.pooled);
  const rows = await maskingAccuracy(bb, probe, 'pooled', data.test, view, be, { fractions: [0, 0.5, 0.9], seed: 0 });
  assert.is(rows[0].accuracy, clean);
  assert.is(rows[0].dropped, 0);
  const P = rows[0].positions;
  assert.ok(P >= 4, `${P} local positions`);
  assert.is(rows[1].dropped, Math.round(0.5 * P));
  assert.is(rows[2].dropped, Math.min(P - 1, Math.round(0.9 * P)));
  await maskingAccuracy(bb, probe, 'pooled', data.test, view, be, { fractions: [1] })
    .then(() => assert.unreachable('dropping everything was accepted'), (e) => assert.match(String(e), /in \[0, 1\), got 1/));
});

test('WebGPU: the input-pixel gradient through the backbone and probe matches the CPU backend', async () => {
  const gpu = await gpuBackendOrSkip('eval: input gradients');
  if (!gpu) return;
  const { bb } = await probed(be);
  manualSeed(0); // the same seeded initialisation on either backend: the same weights
  const g = createBackbone('rf29-resnet10', { width: 1 / 16, smallStem: true, backend: gpu });
  bb.eval(); g.eval();
  const x = randn([3, 15, 13, 3], new Rng(4), { backend: be });
  // Weight the global features by fixed random numbers: the backbone's input gradient, CPU against GPU.
  const w = randn([3, bb.featureDim], new Rng(6), { backend: be });
  const inputGrad = async (m: typeof bb, backend: typeof be) => {
    const leafX = tensor(x.dataSync().slice(), x.shape, { backend });
    leafX.requiresGrad = true;
    const wt = tensor(w.dataSync().slice(), w.shape, { backend });
    const [gx] = grad(sum(mul(m.forwardFeatures(leafX).global, wt)), [leafX]);
    return gx!.data();
  };
  const a = await inputGrad(bb, be), b = await inputGrad(g, gpu);
  let scale = 0, err = 0;
  for (let i = 0; i < a.length; i++) { scale = Math.max(scale, Math.abs(a[i])); err = Math.max(err, Math.abs(a[i] - b[i])); }
  assert.ok(scale > 0, 'zero gradient');
  assert.ok(err <= 1e-4 * scale, `max |cpu − gpu| ${err} against max |grad| ${scale}`);
});

test('coengine eval: every analysis of a small pretrained run, as JSON records', async () => {
  const out = mkdtempSync(path.join(tmpdir(), 'coengine-eval-'));
  const cfg = resolveConfig([{
    method: 'co-byol', arch: 'rf29-resnet10', width: 1 / 16, smallStem: true, device: 'cpu', data: 'synthetic',
    syntheticTrain: 48, syntheticTest: 24, epochs: 1, batchSize: 8, imageSize: 16, projHidden: 16, predHidden: 16, projOut: 8,
    logEvery: 1, checkpointEvery: 100, finalEval: true, finalEvalEpochs: 5, warmupEpochs: 1, out,
  }]);
  const summary = await pretrain(cfg, { quiet: true });
  const records: EvalRecord[] = [];
  await evaluate({
    ...EVAL_DEFAULTS, run: out, analyses: ANALYSES, pgdLimit: 6, pairs: 50, erfImages: 2, quiet: true,
  }, be, (r) => records.push(r));
  const of = (a: string) => records.filter((r) => r.analysis === a);
  assert.match(String(of('setup')[0].encoder), /co-byol rf29-resnet10, step 6/);
  // The linear probes repeat the figures pretrain printed (same features, epochs and seed).
  const linear = Object.fromEntries(of('linear').map((r) => [r.feature, r.testAcc]));
  assert.is(linear.pooled, summary.finalEval!.trained);
  assert.is(linear.pixels, summary.finalEval!.rawPixels);
  assert.equal(of('linear').map((r) => r.feature), ['pooled', 'global', 'pixels']);
  assert.equal(of('layers').map((r) => r.layer), ['layer3', 'layer4', 'final']);
  assert.is(of('layers')[1].testAcc, of('linear')[0].testAcc);
  assert.is(of('corruptions').length, 7 * 5 + 7);
  assert.is(of('corruptions')[0].table, 'cifar');
  assert.is(of('masking').length, 6);
  assert.is(of('pgd').length, 9);
  assert.equal([of('pgd')[0].eps, of('pgd')[0].iterations], [0, 0]); // the unattacked accuracy of the same images
  assert.is(of('similarity').length, 1);
  assert.is(of('erf').length, 1);
  for (const r of records) for (const [k, v] of Object.entries(r)) if (typeof v === 'number') assert.ok(Number.isFinite(v), `${r.analysis}.${k} = ${v}`);
  for (const r of [...of('linear'), ...of('corruptions'), ...of('masking'), ...of('pgd')]) {
    assert.ok((r.accuracy ?? r.testAcc) as number >= 0 && ((r.accuracy ?? r.testAcc) as number) <= 1, JSON.stringify(r));
  }
  // The trained weights were loaded: the random-init evaluation of the same run differs.
  const fresh: EvalRecord[] = [];
  await evaluate({ ...EVAL_DEFAULTS, run: out, randomInit: true, analyses: ['linear', 'similarity'], pairs: 50, quiet: true }, be, (r) => fresh.push(r));
  assert.match(String(fresh[0].encoder), /random initialisation/);
  assert.is(fresh.find((r) => r.feature === 'pooled')!.testAcc, summary.finalEval!.randomInit);
  assert.not.equal(fresh.find((r) => r.analysis === 'similarity')!.pearson, of('similarity')[0].pearson);
  // A checkpoint file named directly is the one loaded (here a copy under another name).
  const copy = path.join(out, 'kept.safetensors');
  copyFileSync(path.join(out, 'checkpoint-00000006.safetensors'), copy);
  const named: EvalRecord[] = [];
  await evaluate({ ...EVAL_DEFAULTS, run: copy, analyses: ['linear'], quiet: true }, be, (r) => named.push(r));
  assert.match(String(named[0].encoder), /kept\.safetensors \(co-byol rf29-resnet10\)$/);
  assert.is(named[1].testAcc, summary.finalEval!.trained);
  // The command: records as JSON lines in the run directory, a clear error for a bad list.
  const main = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
  const cli = (args: string[]) => spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 120_000 });
  let r = cli(['eval', out, '--analyses', 'linear,masking', '--mask-fractions', '0.5', '--probe-epochs', '1', '--train-limit', '16', '--test-limit', '8', '--device', 'cpu', '--quiet']);
  assert.is(r.status, 0, r.stderr);
  const file = path.join(out, 'eval.jsonl');
  assert.ok(existsSync(file));
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.map((l) => l.analysis), ['setup', 'linear', 'linear', 'linear', 'masking', 'masking']);
  r = cli(['eval', out, '--analyses', 'linear,colour']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /not colour/);
  r = cli(['eval', path.join(out, 'nothing-here'), '--device', 'cpu']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /coengine eval: .*nothing-here\/state\.json does not exist \(not a run directory of coengine pretrain with a checkpoint\)/);
  assert.not.ok(existsSync(path.join(out, 'nothing-here')), 'a failed evaluation made a directory');
  r = cli(['eval', '--device', 'cpu']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /give a run directory, or --arch/);
});

for (const method of ['co-mocov3', 'co-dino'] as const) {
  test(`coengine eval loads a ${method} run's online backbone (its linear figures are pretrain's)`, async () => {
    const out = mkdtempSync(path.join(tmpdir(), `coengine-eval-${method}-`));
    const summary = await pretrain(resolveConfig([{
      method, arch: 'rf29-resnet10', width: 1 / 16, smallStem: true, device: 'cpu', data: 'synthetic', syntheticTrain: 32, syntheticTest: 16,
      epochs: 1, batchSize: 8, imageSize: 16, projHidden: 16, predHidden: 16, projOut: 8, dinoPrototypes: 32, logEvery: 1,
      checkpointEvery: 100, finalEval: true, finalEvalEpochs: 3, warmupEpochs: 1, out,
    }]), { quiet: true });
    const records: EvalRecord[] = [];
    await evaluate({ ...EVAL_DEFAULTS, run: out, analyses: ['linear'], quiet: true }, be, (r) => records.push(r));
    assert.match(String(records[0].encoder), new RegExp(`${method} rf29-resnet10, step 4`));
    assert.is(records.find((r) => r.feature === 'pooled')!.testAcc, summary.finalEval!.trained);
  });
}

test('the command\'s lists: attacks as EPS[/D][xN], analyses by name or all', () => {
  assert.equal(attackList('0.01/10x5, 0.003'), [{ eps: 0.01, step: 0.001, iterations: 5 }, { eps: 0.003, step: 0.003 / 40, iterations: 1 }]);
  assert.equal(attackList('0.1x2'), [{ eps: 0.1, step: 0.1 / 40, iterations: 2 }]);
  for (const bad of ['0', '2', '0.01/0', '0.01x0', 'big']) assert.throws(() => attackList(bad), /Expected attacks as EPS\[\/D\]\[xN\]/, bad);
  const analyses = nameList('analyses', ANALYSES);
  assert.equal(analyses('all'), [...ANALYSES]);
  assert.equal(analyses('pgd, erf'), ['pgd', 'erf']);
  assert.throws(() => analyses('pgd,fog'), /not fog/);
});

test.run();
