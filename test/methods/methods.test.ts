// Every method builds, runs a training forward on tiny inputs, and sends gradients to every
// online parameter that should learn (and none to the target).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu } from '../../src/backend/registry.js';
import { resolveConfig } from '../../src/training/config.js';
import { createMethod, METHOD_NAMES } from '../../src/methods/index.js';
import { backward, randn } from '../../src/ops/index.js';
import { Rng } from '../../src/runtime/rng.js';
import { manualSeed } from '../../src/nn/init.js';

for (const method of METHOD_NAMES) {
  test(`${method}: loss is finite and gradients reach the online network only`, async () => {
    manualSeed(1);
    const cfg = resolveConfig([{ method, arch: 'rf29-resnet18', width: 1 / 16, smallStem: true, projHidden: 16, predHidden: 16, projOut: 8, dinoPrototypes: 12, smallCrops: method.endsWith('-mc') ? 2 : 0 }]);
    const m = createMethod(cfg, cpu());
    const rng = new Rng(3);
    const views = [0, 1].map(() => randn([4, 12, 12, 3], rng, { backend: cpu() }));
    const small = Array.from({ length: cfg.smallCrops }, () => randn([4, 8, 8, 3], rng, { backend: cpu() }));
    const out = m.forward(views, small, { step: 0, totalSteps: 10, stepsPerEpoch: 5 });
    const loss = out.loss.dataSync()[0];
    assert.ok(Number.isFinite(loss), `loss ${loss}`);
    if (method.startsWith('co-')) assert.ok('lossLocal' in out.parts, 'local loss reported');
    backward(out.loss);
    // Every online parameter learns: backbone (MLP block included), heads, prototypes.
    const missing = [...m.online.namedParameters()].filter(([, p]) => !p.grad).map(([n]) => n);
    assert.equal(missing, []);
    if (method.startsWith('co-')) {
      const local = [...m.online.namedParameters()].filter(([n]) => n.includes('local_'));
      assert.ok(local.length > 0 && local.every(([, p]) => p.grad !== null), 'local heads get gradients');
    }
    if (m.target) assert.ok(m.target.parameters().every((p) => p.grad === null), 'target gets no gradient');
  });
}

test.run();
