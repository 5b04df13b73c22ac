// Optimizer.prepare / record: prepare counts the step and writes its lr and bias corrections
// into the persistent `hyper` tensor; record applies the step reading them, so a recorded step
// can be replayed after the next prepare. step(lr) is the two in a row.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { optimizerHyperValues, type Backend, type OptimizerKind } from '../../src/backend/backend.js';
import { cpu } from '../../src/backend/registry.js';
import * as op from '../../src/ops/index.js';
import { Rng } from '../../src/runtime/rng.js';
import { tidy, type Tensor } from '../../src/tensor.js';
import { Optimizer } from '../../src/training/optim.js';
import { gpuBackendOrSkip } from '../helpers/gpu.js';

const SUITE = 'optimizer prepare/record';

function params(be: Backend, seed: number): [string, Tensor][] {
  const rng = new Rng(seed);
  const o = { backend: be, requiresGrad: true };
  return [['w', op.randn([4, 6], rng, o)], ['b', op.randn([6], rng, o)]];
}

function setGrads(be: Backend, named: [string, Tensor][], seed: number): void {
  const rng = new Rng(seed);
  for (const [, p] of named) p.grad = op.randn(p.shape, rng, { backend: be });
}

async function values(named: [string, Tensor][]): Promise<number[]> {
  return (await Promise.all(named.map(async ([, p]) => Array.from(await p.data())))).flat();
}

async function backends(): Promise<[string, Backend][]> {
  const gpu = await gpuBackendOrSkip(SUITE);
  return gpu ? [['cpu', cpu()], ['webgpu', gpu]] : [['cpu', cpu()]];
}

test('step(lr) = prepare(lr); record(): same parameters, one count per prepare, grads cleared', async () => {
  for (const [name, be] of await backends()) for (const kind of ['sgd', 'lars', 'adamw'] as OptimizerKind[]) {
    const [a, b] = [params(be, 1), params(be, 1)];
    const cfg = { kind, weightDecay: 1e-2, beta1: 0.8, beta2: 0.9 };
    const [oa, ob] = [new Optimizer(be, a, cfg), new Optimizer(be, b, cfg)];
    for (const [k, lr] of [0.1, 0.02, 0.3].entries()) {
      setGrads(be, a, 10 + k); setGrads(be, b, 10 + k);
      oa.step(lr);
      ob.prepare(lr);
      assert.is(ob.stepCount, k + 1, `${name} ${kind}: prepare counts the step`);
      assert.equal(Array.from(await ob.hyper.data()), Array.from(optimizerHyperValues(lr, k + 1, 0.8, 0.9)), `${name} ${kind}: hyper`);
      ob.record();
      assert.is(ob.stepCount, k + 1, `${name} ${kind}: record does not count`);
      assert.ok(b.every(([, p]) => p.grad === null), `${name} ${kind}: grads cleared`);
    }
    assert.is(oa.stepCount, 3);
    assert.equal(await values(b), await values(a), `${name} ${kind}: parameters`);
  }
});

test('record applies the lr of the latest prepare (plain SGD: w ← w − lr·g)', async () => {
  for (const [name, be] of await backends()) {
    const named = params(be, 2);
    const opt = new Optimizer(be, named, { kind: 'sgd', weightDecay: 0, momentum: 0 });
    let want = await values(named);
    for (const [k, lr] of [0.5, 0.01, 2].entries()) {
      setGrads(be, named, 20 + k);
      const g = (await Promise.all(named.map(async ([, p]) => Array.from(await p.grad!.data())))).flat();
      opt.prepare(lr);
      opt.record();
      want = want.map((w, i) => Math.fround(w - Math.fround(Math.fround(lr) * g[i])));
      const got = await values(named);
      got.forEach((x, i) => assert.ok(Math.abs(x - want[i]) <= 1e-6 * (1 + Math.abs(want[i])), `${name} step ${k + 1} [${i}]: ${x} vs ${want[i]}`));
    }
  }
});

test('AdamW bias correction follows stepCount (as restored from a checkpoint)', async () => {
  for (const [name, be] of await backends()) {
    const named: [string, Tensor][] = [['b', op.randn([16], new Rng(3), { backend: be, requiresGrad: true })]];
    const opt = new Optimizer(be, named, { kind: 'adamw', weightDecay: 0, beta1: 0.8, beta2: 0.95, eps: 1e-8 });
    opt.stepCount = 5;
    const w0 = await values(named);
    setGrads(be, named, 30);
    const g = Array.from(await named[0][1].grad!.data());
    opt.prepare(0.1);
    assert.is(opt.stepCount, 6);
    const bc1 = 1 - 0.8 ** 6, bc2 = 1 - 0.95 ** 6;
    assert.equal(Array.from(await opt.hyper.data()), [0.1, bc1, bc2, 0].map(Math.fround), `${name}: hyper`);
    opt.record();
    // Fresh moments: m = 0.2·g, v = 0.05·g²; with step 1's corrections the update would be ≈ lr·sign(g).
    const want = w0.map((w, i) => w - 0.1 * ((0.2 * g[i] / bc1) / (Math.sqrt(0.05 * g[i] * g[i] / bc2) + 1e-8)));
    const got = await values(named);
    got.forEach((x, i) => assert.ok(Math.abs(x - want[i]) <= 1e-5 * (1 + Math.abs(want[i])), `${name} [${i}]: ${x} vs ${want[i]}`));
  }
});

test('hyper outlives the tidy scopes the optimiser is built and stepped in', async () => {
  for (const [name, be] of await backends()) {
    const named = params(be, 4);
    let opt!: Optimizer;
    tidy(() => { opt = new Optimizer(be, named, { kind: 'sgd', weightDecay: 0 }); });
    for (let k = 0; k < 2; k++) tidy(() => { setGrads(be, named, 40 + k); opt.step(0.1); });
    assert.not.ok(opt.hyper.isDisposed, `${name}: hyper disposed`);
    assert.equal(Array.from(await opt.hyper.data()), Array.from(optimizerHyperValues(0.1, 2, 0.9, 0.999)), `${name}: hyper`);
  }
});

test.run();
