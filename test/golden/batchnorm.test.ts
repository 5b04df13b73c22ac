// Batch norm against PyTorch (test/fixtures/core_batchnorm.json): 2d training mode (batch
// statistics, running-stat update with momentum 0.1 from 0 / 1), 2d eval mode (given running
// statistics) and 1d training mode; outputs and gradients of sum(y * dy). Each case runs through
// the batchNorm op and through the nn layer (BatchNorm1d/2d loaded with loadStateDict), on the
// CPU backend (f32, f64) and on WebGPU when an adapter exists.
import { test } from 'uvu';
import { batchNorm, mul, sum, backward, tensor } from '../../src/ops/index.js';
import { BatchNorm1d, BatchNorm2d } from '../../src/nn/index.js';
import { tidy, type Tensor } from '../../src/tensor.js';
import { cpuTargets, expectClose, fromFixture, inputAsReference, loadFixture, webgpuTargetOrSkip, type FixtureCase, type Target } from '../helpers/fixtures.js';

const file = loadFixture('core_batchnorm.json');
const gpu = await webgpuTargetOrSkip('golden batchnorm');
const targets: Target[] = [...cpuTargets(), ...(gpu ? [gpu] : [])];

/** Running statistics the case starts from: given (eval) or PyTorch's defaults 0 / 1 (train). */
function initialRunningStats(c: FixtureCase, t: Target, C: number): { mean: Tensor; variance: Tensor } {
  if (c.inputs.running_mean) {
    return { mean: fromFixture(c.inputs.running_mean, t), variance: fromFixture(c.inputs.running_var, t) };
  }
  const mean0 = Number(c.params.running_mean_init), var0 = Number(c.params.running_var_init);
  return {
    mean: tensor(new Array(C).fill(mean0), [C], { dtype: t.dtype, backend: t.backend }),
    variance: tensor(new Array(C).fill(var0), [C], { dtype: t.dtype, backend: t.backend }),
  };
}

async function checkOutputs(c: FixtureCase, t: Target, via: string, y: Tensor, x: Tensor, gamma: Tensor, beta: Tensor,
  runningMean: Tensor, runningVar: Tensor): Promise<void> {
  const o = c.outputs;
  await expectClose(y, o.y, t, `${c.name} (${via}) y`);
  await expectClose(x.grad, o.dx, t, `${c.name} (${via}) dx`);
  await expectClose(gamma.grad, o.dgamma, t, `${c.name} (${via}) dgamma`);
  await expectClose(beta.grad, o.dbeta, t, `${c.name} (${via}) dbeta`);
  if (c.params.training) {
    await expectClose(runningMean, o.running_mean, t, `${c.name} (${via}) running_mean`);
    await expectClose(runningVar, o.running_var, t, `${c.name} (${via}) running_var`);
  } else {
    // Eval mode must leave the running statistics untouched.
    await expectClose(runningMean, inputAsReference(c.inputs.running_mean), t, `${c.name} (${via}) running_mean unchanged`);
    await expectClose(runningVar, inputAsReference(c.inputs.running_var), t, `${c.name} (${via}) running_var unchanged`);
  }
}

for (const c of file.cases) {
  const training = Boolean(c.params.training);
  const C = c.inputs.x.shape[c.inputs.x.shape.length - 1];
  const layerName = c.inputs.x.shape.length === 2 ? 'BatchNorm1d' : 'BatchNorm2d';
  for (const t of targets) {
    test(`batchNorm op ${c.name} matches PyTorch [${t.label}]`, async () => {
      const x = fromFixture(c.inputs.x, t, true);
      const gamma = fromFixture(c.inputs.gamma, t, true);
      const beta = fromFixture(c.inputs.beta, t, true);
      const dy = fromFixture(c.inputs.dy, t);
      const { mean, variance } = initialRunningStats(c, t, C);
      const made = [x, gamma, beta, dy, mean, variance];
      try {
        const y = tidy(() => {
          const out = batchNorm(x, {
            gamma, beta, runningMean: mean, runningVar: variance, training,
            momentum: Number(c.params.momentum ?? 0.1), eps: Number(c.params.eps),
          });
          backward(sum(mul(out, dy)));
          return out;
        });
        made.push(y);
        await checkOutputs(c, t, 'op', y, x, gamma, beta, mean, variance);
      } finally {
        for (const m of made) { m.grad?.dispose(); m.dispose(); }
      }
    });

    test(`${layerName} layer ${c.name} matches PyTorch [${t.label}]`, async () => {
      const opts = { backend: t.backend, dtype: t.dtype, eps: Number(c.params.eps), momentum: Number(c.params.momentum ?? 0.1) };
      const bn = layerName === 'BatchNorm1d' ? new BatchNorm1d(C, opts) : new BatchNorm2d(C, opts);
      const { mean, variance } = initialRunningStats(c, t, C);
      const state = new Map<string, Tensor>([
        ['weight', fromFixture(c.inputs.gamma, t)], ['bias', fromFixture(c.inputs.beta, t)],
        ['running_mean', mean], ['running_var', variance],
      ]);
      const { missing, unexpected } = bn.loadStateDict(state, false);
      if (missing.join() !== 'num_batches_tracked' || unexpected.length) {
        throw new Error(`loadStateDict: missing [${missing}], unexpected [${unexpected}]`);
      }
      for (const s of state.values()) s.dispose();
      bn.train(training);
      const x = fromFixture(c.inputs.x, t, true);
      const dy = fromFixture(c.inputs.dy, t);
      const made = [x, dy];
      try {
        const y = tidy(() => {
          const out = bn.forward(x);
          backward(sum(mul(out, dy)));
          return out;
        });
        made.push(y);
        await checkOutputs(c, t, 'layer', y, x, bn.weight!, bn.bias!, bn.runningMean, bn.runningVar);
      } finally {
        for (const m of made) { m.grad?.dispose(); m.dispose(); }
        for (const [, p] of bn.stateDict()) { p.grad?.dispose(); p.dispose(); }
      }
    });
  }
}

test('the batch-norm fixture covers train 2d, eval 2d and train 1d', () => {
  const names = file.cases.map((c) => c.name).sort();
  if (names.join() !== 'bn1d_train,bn2d_eval,bn2d_train') throw new Error(`core_batchnorm.json cases: ${names.join(', ')}`);
});

test.run();
