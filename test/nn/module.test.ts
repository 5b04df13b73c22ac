// Modules: torchvision-style names, train/eval, state dicts, running statistics.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu } from '../../src/backend/registry.js';
import * as op from '../../src/ops/index.js';
import { BatchNorm2d, Conv2d, Linear, Module, ReLU, Sequential, manualSeed } from '../../src/nn/index.js';
import type { Tensor } from '../../src/tensor.js';

class Block extends Module {
  conv1 = this.child('conv1', new Conv2d(3, 4, 3, { padding: 1, backend: cpu() }));
  bn1 = this.child('bn1', new BatchNorm2d(4, { backend: cpu() }));
  downsample = this.child('downsample', new Sequential(new Conv2d(3, 4, 1, { backend: cpu() }), new BatchNorm2d(4, { backend: cpu() })));
  forward(x: Tensor): Tensor { return op.relu(op.add(this.bn1.forward(this.conv1.forward(x)), this.downsample.forward(x))); }
}

test('parameter and buffer names follow torchvision', () => {
  const names = [...new Block().stateDict().keys()];
  assert.equal(names, [
    'conv1.weight', 'bn1.weight', 'bn1.bias', 'downsample.0.weight', 'downsample.1.weight', 'downsample.1.bias',
    'bn1.running_mean', 'bn1.running_var', 'bn1.num_batches_tracked',
    'downsample.1.running_mean', 'downsample.1.running_var', 'downsample.1.num_batches_tracked',
  ]);
});

test('train/eval propagate; BN updates running stats only in training', async () => {
  const b = new Block();
  const x = op.randn([2, 5, 5, 3], new (await import('../../src/runtime/rng.js')).Rng(1), { backend: cpu(), mean: 2 });
  b.forward(x);
  const rm = [...b.bn1.runningMean.dataSync()];
  assert.ok(rm.some((v) => v !== 0));
  b.eval();
  assert.is(b.downsample.layers[1].training, false);
  b.forward(x);
  assert.equal([...b.bn1.runningMean.dataSync()], rm);
});

test('same seed, same weights', () => {
  manualSeed(3); const a = new Linear(4, 2, { backend: cpu() });
  manualSeed(3); const c = new Linear(4, 2, { backend: cpu() });
  assert.equal([...a.weight.dataSync()], [...c.weight.dataSync()]);
});

test('loadStateDict copies values and rejects wrong shapes by name', () => {
  const a = new Linear(3, 2, { backend: cpu() }), b = new Linear(3, 2, { backend: cpu() });
  b.loadStateDict(a.stateDict());
  assert.equal([...b.weight.dataSync()], [...a.weight.dataSync()]);
  const c = new Linear(4, 2, { backend: cpu() });
  assert.throws(() => c.loadStateDict(a.stateDict()), /weight has shape \[2, 3\].*expects \[2, 4\]/);
});

test('a training step: gradients reach every parameter; zeroGrad clears', () => {
  const net = new Sequential(new Linear(3, 5, { backend: cpu() }), new ReLU(), new Linear(5, 2, { backend: cpu() }));
  const x = op.tensor([1, 2, 3, -1, 0.5, 2], [2, 3], { backend: cpu() });
  const loss = op.crossEntropy(net.forward(x), op.tensor([0, 1], [2], { dtype: 'i32', backend: cpu() }));
  op.backward(loss);
  for (const [n, p] of net.namedParameters()) assert.ok(p.grad && p.grad.shape.join() === p.shape.join(), n);
  net.zeroGrad();
  assert.ok(net.parameters().every((p) => p.grad === null));
});

test.run();
