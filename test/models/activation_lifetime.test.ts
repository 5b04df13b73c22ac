// Activations are let go as soon as they are consumed. Under noGrad (a target network's or a
// teacher's forward) that frees them at once: the forward's peak is a few layers' worth, not the
// whole network's. Before, every block output, and the target's features, stayed alive until the
// step's scope ended, through the online backward (~10% of the peak of an RF99-ResNet50 CO-BYOL
// step at small scale). With gradients, the tape's own aliases keep what backward needs (the
// golden and method tests check the gradients).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu } from '../../src/backend/registry.js';
import { noGrad, randn, tensor } from '../../src/ops/index.js';
import { tidy, type Tensor } from '../../src/tensor.js';
import { createBackbone, type Features, type ResNet } from '../../src/models/index.js';
import { createMethod } from '../../src/methods/index.js';
import { resolveConfig } from '../../src/training/config.js';
import { manualSeed } from '../../src/nn/init.js';
import { Rng } from '../../src/runtime/rng.js';
import { gpuBackendOrSkip, gpuHandle } from '../helpers/gpu.js';

test('a no-grad forward peaks at its first stage\'s working set, not at the sum of its activations', async () => {
  const gpu = await gpuBackendOrSkip('activation lifetime');
  if (!gpu) return;
  const rt = (await gpuHandle())!.runtime;
  const net = createBackbone('resnet50', { backend: gpu, width: 0.25 });
  const rng = new Rng(3);
  const x = tensor(Float32Array.from({ length: 2 * 64 * 64 * 3 }, () => rng.uniform(-1, 1)), [2, 64, 64, 3], { backend: gpu });
  // The peak bytes in use while fn runs (over what was in use before it).
  const peakOf = (fn: () => void): number => {
    rt.resetPeak();
    const before = rt.stats().bytesInUse;
    tidy(fn);
    return rt.stats().peakBytesInUse - before;
  };
  const stem = (net as unknown as { stem(x: Tensor): Tensor }).stem.bind(net);
  const stage1 = peakOf(() => noGrad(() => { net.layers[0].forward(stem(x)); }));
  const whole = peakOf(() => noGrad(() => { net.forwardFeatures(x); }));
  // Measured (lavapipe): 1.00× with the early release, 1.75× without it.
  assert.ok(whole < 1.25 * stage1, `whole network ${whole} bytes at its peak, its first stage alone ${stage1}`);
  x.dispose();
});

for (const method of ['co-byol', 'co-mocov3', 'co-dino'] as const) {
  test(`${method}: the target's features are gone when its forward returns, before the step's scope ends`, () => {
    manualSeed(5);
    const cfg = resolveConfig([{ method, arch: 'rf29-resnet18', width: 1 / 16, smallStem: true, projHidden: 16, predHidden: 16, projOut: 8, dinoPrototypes: 12 }]);
    const m = createMethod(cfg, cpu());
    const backbone = ((m.target as unknown as { backbone: ResNet }).backbone);
    const seen: Features[] = [];
    const forwardFeatures = backbone.forwardFeatures.bind(backbone);
    backbone.forwardFeatures = (x, o) => { const f = forwardFeatures(x, o); seen.push(f); return f; };
    const rng = new Rng(9);
    const views = [0, 1].map(() => randn([3, 12, 12, 3], rng, { backend: cpu() }));
    tidy(() => {
      const out = m.forward(views, [], { step: 3, totalSteps: 10, stepsPerEpoch: 5 });
      assert.ok(seen.length >= 1, 'the target network ran');
      for (const f of seen) {
        for (const [k, t] of Object.entries(f)) {
          if (t) assert.throws(() => (t as Tensor).storage, /after dispose/, `target features.${k} still alive`);
        }
      }
      return out.loss;
    });
  });
}

test.run();
