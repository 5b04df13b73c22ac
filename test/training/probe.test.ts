// The online probe learns a linearly separable problem with either optimiser kind, and
// correctCount counts argmax hits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu } from '../../src/backend/registry.js';
import { OnlineProbes, correctCount } from '../../src/training/probe.js';
import { backward, tensor } from '../../src/ops/index.js';
import { tidy } from '../../src/tensor.js';
import { Rng } from '../../src/runtime/rng.js';
import type { OptimizerKind } from '../../src/backend/backend.js';

test('correctCount counts rows whose argmax is the label', () => {
  const logits = tensor([0.1, 2, 0.3, 5, 1, 1, 0, 0, 9], [3, 3], { backend: cpu() });
  const labels = tensor([1, 2, 2], [3], { dtype: 'i32', backend: cpu() });
  assert.is(correctCount(logits, labels).dataSync()[0], 2);
});

for (const kind of ['sgd', 'lars'] as OptimizerKind[]) {
  test(`an online probe (${kind}) learns separable features`, () => {
    const rng = new Rng(5);
    const K = 5, D = 16, B = 64;
    const centers = Array.from({ length: K }, () => Array.from({ length: D }, () => 3 * rng.normal()));
    const probes = new OnlineProbes(cpu(), [{ name: 'global', dim: D }], K, rng, { kind, eta: 0.02 });
    let acc = 0;
    for (let step = 0; step < 150; step++) {
      const y = Int32Array.from({ length: B }, () => rng.int(K));
      const x = new Float32Array(B * D);
      y.forEach((c, i) => { for (let d = 0; d < D; d++) x[i * D + d] = centers[c][d] + rng.normal(); });
      const parts = tidy(() => {
        const out = probes.forward({ global: tensor(x, [B, D], { backend: cpu() }) }, tensor(y, [B], { dtype: 'i32', backend: cpu() }));
        backward(out.loss);
        return out.parts;
      });
      probes.optimizer.step(0.1);
      acc = parts.globalProbeCorrect.dataSync()[0] / B;
    }
    assert.ok(acc > 0.9, `train-batch accuracy after 150 steps: ${acc}`);
  });
}

test.run();
