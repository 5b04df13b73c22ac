// The online probe learns a linearly separable problem whatever the feature scale, and
// correctCount counts argmax hits.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu } from '../../src/backend/registry.js';
import { OnlineProbes, correctCount } from '../../src/training/probe.js';
import { backward, tensor } from '../../src/ops/index.js';
import { tidy } from '../../src/tensor.js';
import { Rng } from '../../src/runtime/rng.js';

test('correctCount counts rows whose argmax is the label', () => {
  const logits = tensor([0.1, 2, 0.3, 5, 1, 1, 0, 0, 9], [3, 3], { backend: cpu() });
  const labels = tensor([1, 2, 2], [3], { dtype: 'i32', backend: cpu() });
  assert.is(correctCount(logits, labels).dataSync()[0], 2);
});

// Features of any scale (the probe standardises them), at the small learning rate a
// batch-32 run gets (0.1·32/256), in 150 steps; then in eval mode (running statistics).
for (const scale of [1, 1000]) {
  test(`an online probe learns separable features of scale ${scale}, and evaluates with running statistics`, () => {
    const rng = new Rng(5);
    const K = 5, D = 16, B = 64;
    const centers = Array.from({ length: K }, () => Array.from({ length: D }, () => 3 * rng.normal()));
    const probes = new OnlineProbes(cpu(), [{ name: 'global', dim: D }], K, rng);
    const batch = () => {
      const y = Int32Array.from({ length: B }, () => rng.int(K));
      const x = new Float32Array(B * D);
      y.forEach((c, i) => { for (let d = 0; d < D; d++) x[i * D + d] = scale * (centers[c][d] + rng.normal()) + 5 * scale; });
      return { x: tensor(x, [B, D], { backend: cpu() }), y: tensor(y, [B], { dtype: 'i32', backend: cpu() }) };
    };
    for (let step = 0; step < 150; step++) {
      tidy(() => { const { x, y } = batch(); backward(probes.forward({ global: x }, y).loss); });
      probes.optimizer.step(0.0125);
    }
    probes.train(false);
    const acc = tidy(() => { const { x, y } = batch(); return probes.forward({ global: x }, y).parts.globalProbeCorrect.dataSync()[0] / B; });
    probes.train(true);
    assert.ok(acc > 0.9, `held-out accuracy in eval mode after 150 steps: ${acc}`);
  });
}

test.run();
