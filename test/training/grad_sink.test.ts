// Gradient sinks: an optimiser makes its flat gradient buffer's segments the parameters' sinks,
// backward() has conv-weight, linear-weight and batch-norm gradients written there in place, and the flat
// gradients equal what grad() computes — including a weight used twice (the second
// contribution is added, not written over the first), across two backward() calls, and on the
// WebGPU backend. grad() never writes into a sink.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend } from '../../src/backend/backend.js';
import { cpu } from '../../src/backend/registry.js';
import * as op from '../../src/ops/index.js';
import { Rng } from '../../src/runtime/rng.js';
import type { Tensor } from '../../src/tensor.js';
import { Optimizer } from '../../src/training/optim.js';
import { gpuBackendOrSkip } from '../helpers/gpu.js';

function net(be: Backend, dtype: 'f32' | 'f64') {
  const rng = new Rng(4);
  const o = { backend: be, dtype, requiresGrad: true };
  const p = {
    w1: op.randn([6, 3, 3, 3], rng, o), w2: op.randn([6, 6, 1, 1], rng, o), w3: op.randn([5, 6, 1, 1], rng, o),
    gamma: op.randn([6], rng, o), beta: op.randn([6], rng, o), lw: op.randn([4, 5], rng, o), lb: op.randn([4], rng, o),
  };
  const x = op.randn([2, 5, 5, 3], rng, { backend: be, dtype });
  /** Conv → BN+ReLU (two groups) → the same 1×1 conv twice (shared weight) → another 1×1 → pool → linear. */
  const loss = (): Tensor => {
    const h = op.batchNorm(op.conv2d(x, p.w1, null, { padding: 1 }), { gamma: p.gamma, beta: p.beta, training: true, relu: true, groups: 2 });
    const h2 = op.conv2d(op.relu(op.conv2d(h, p.w2)), p.w2);
    return op.sum(op.square(op.linear(op.globalAvgPool2d(op.conv2d(h2, p.w3)), p.lw, p.lb)));
  };
  return { p, loss };
}

async function check(be: Backend, dtype: 'f32' | 'f64', tol: number) {
  const { p, loss } = net(be, dtype);
  const names = Object.keys(p) as (keyof typeof p)[];
  const opt = new Optimizer(be, names.map((n) => [n, p[n]]), { kind: 'sgd', weightDecay: 0 });
  const want = op.grad(loss(), names.map((n) => p[n]));
  // grad() left every sink alone (the flat gradient buffer is still all zeros).
  assert.ok(Array.from(await opt.grads.data()).every((v) => v === 0), 'grad() wrote into a sink');
  op.backward(loss());
  // Written in place: the 3×3 and the last 1×1 conv weight (used once each), the batch-norm
  // parameters and the linear weight; not the shared 1×1 weight (two contributions) nor the
  // linear bias (a reduction).
  const inPlace = names.filter((n) => p[n].grad!.storage === p[n].gradSink!.storage);
  assert.equal(inPlace.sort(), ['beta', 'gamma', 'lw', 'w1', 'w3']);
  opt.params.gatherGrads(opt.grads);
  const flat = await opt.grads.data();
  for (const [i, e] of opt.params.entries.entries()) {
    const w = await want[i]!.data();
    for (let k = 0; k < e.size; k++) {
      assert.ok(Math.abs(flat[e.offset + k] - w[k]) <= tol * (1 + Math.abs(w[k])), `${e.name}[${k}]: ${flat[e.offset + k]} vs ${w[k]}`);
    }
  }
  // A second backward accumulates onto the gradients written in place.
  op.backward(loss());
  opt.params.gatherGrads(opt.grads);
  const twice = await opt.grads.data();
  for (const [i, e] of opt.params.entries.entries()) {
    const w = await want[i]!.data();
    for (let k = 0; k < e.size; k++) assert.ok(Math.abs(twice[e.offset + k] - 2 * w[k]) <= 2 * tol * (1 + Math.abs(w[k])), `2× ${e.name}[${k}]`);
  }
}

test('gradient sinks on the CPU backend (f64): in place where possible, same gradients as grad()', () => check(cpu(), 'f64', 1e-12));

test('gradient sinks on the WebGPU backend', async () => {
  const gpu = await gpuBackendOrSkip('gradient sinks');
  if (!gpu) return;
  await check(gpu, 'f32', 1e-4);
});

test.run();
