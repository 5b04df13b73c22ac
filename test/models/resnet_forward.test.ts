// ResNet-18 forward on the CPU backend against PyTorch (test/fixtures/resnet18_forward.safetensors,
// made by make_resnet18_fixture.py from a plain-torch copy of torchvision's resnet18): eval mode
// (running statistics) and train mode (batch statistics), f32 against a float64 reference.
// Weights come from a formula both sides share (fixture_weights.ts), so the fixture holds outputs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu } from '../../src/backend/registry.js';
import { tensor, mean, reshape, gather, noGrad, backward, sum, mul } from '../../src/ops/index.js';
import { tidy, type Tensor } from '../../src/tensor.js';
import { createBackbone, type BasicBlock } from '../../src/models/index.js';
import { readSafetensors, type SafeTensor } from '../../src/io/safetensors.js';
import { fixturePath, relErr } from '../helpers/fixtures.js';
import { gpuBackendOrSkip } from '../helpers/gpu.js';
import { fillFromFormula, valueFor } from './fixture_weights.js';

const TOL = 1e-4; // max|ours − ref| / max|ref|, f32 vs f64 (see test/helpers/fixtures.ts)
const fx = (await readSafetensors(fixturePath('resnet18_forward.safetensors'))).tensors;
const get = (k: string): SafeTensor => {
  const t = fx.get(k);
  if (!t) throw new Error(`fixture resnet18_forward.safetensors has no '${k}'`);
  return t;
};

function expectClose(got: Tensor, ref: SafeTensor, what: string): void {
  assert.equal([...got.shape], ref.shape, `${what}: shape`);
  const err = relErr(got.dataSync() as Float32Array, ref.data as Float64Array);
  if (process.env.GOLDEN_VERBOSE) console.log(`    ${what}: rel err ${err.toExponential(2)}`);
  assert.ok(err <= TOL, `${what}: rel err ${err.toExponential(2)} > ${TOL}`);
}

const model = createBackbone('resnet18', { backend: cpu(), init: 'zeros' });
fillFromFormula(model);
const input = get('input');
const x = tensor(Float32Array.from(input.data as Float32Array), input.shape, { backend: cpu() });

test('the TS weight formula reproduces the script\'s values exactly', () => {
  for (const name of ['conv1.weight', 'layer4.1.bn2.running_var']) {
    const ref = get(`check.${name}`).data as Float32Array;
    assert.equal([...valueFor(name, get(`check.${name}`).shape)], [...ref], name);
  }
  assert.equal([...model.conv1.weight.dataSync()], [...(get('check.conv1.weight').data as Float32Array)]);
});

test('eval mode: layer3, local map and pooled feature match PyTorch', () => {
  model.eval();
  tidy(() => noGrad(() => {
    const f = model.forwardFeatures(x);
    expectClose(f.layer3, get('eval.layer3'), 'eval layer3');
    expectClose(f.localMap, get('eval.localMap'), 'eval localMap');
    expectClose(f.pooled, get('eval.pooled'), 'eval pooled');
    assert.is(f.mlp, null);
    assert.is(f.global, f.pooled);
  }));
});

test('train mode: batch statistics, and running statistics updated like torch', () => {
  model.train();
  tidy(() => noGrad(() => {
    const f = model.forwardFeatures(x);
    expectClose(f.layer3, get('train.layer3'), 'train layer3');
    expectClose(f.localMap, get('train.localMap'), 'train localMap');
    expectClose(f.pooled, get('train.pooled'), 'train pooled');
  }));
  const rv = get('train.bn1.running_var');
  const err = relErr(model.bn1.runningVar.dataSync(), rv.data as Float64Array);
  assert.ok(err <= TOL, `bn1.running_var after one step: rel err ${err}`);
  model.eval();
});

test('internal masking: dropped positions are excluded from the pooled feature', () => {
  tidy(() => noGrad(() => {
    const f = model.forwardFeatures(x, { drop: [0, 3] }); // local map is 2×2: keep 1 and 2
    const [B, h, w, C] = f.localMap.shape;
    assert.equal([h, w], [2, 2]);
    const kept = gather(reshape(f.localMap, [B, h * w, C]), 1, tensor(Int32Array.of(1, 2), [2], { dtype: 'i32', backend: cpu() }));
    const got = f.pooled.dataSync();
    assert.ok(relErr(got, mean(kept, 1).dataSync()) < 1e-6);
    // the unmasked reference pools all four positions: masking must move the feature
    assert.ok(relErr(got, get('eval.pooled').data as Float64Array) > 1e-3, 'masking must change the pooled feature');
    assert.throws(() => model.forwardFeatures(x, { drop: [0, 1, 2, 3] }), /nothing to pool/);
    assert.throws(() => model.forwardFeatures(x, { drop: [4] }), /outside the 4 local positions/);
  }));
});

test('RF-ResNet with MLP (small width): shapes of every feature; gradients reach stem and MLP', () => {
  const m = createBackbone('rf29-resnet18', { backend: cpu(), width: 0.125 });
  const xs = tensor(Float32Array.from({ length: 2 * 16 * 16 * 3 }, (_, i) => Math.sin(i)), [2, 16, 16, 3], { backend: cpu() });
  tidy(() => {
    const f = m.forwardFeatures(xs, { drop: [5] });
    assert.equal([...f.localMap.shape], [2, 4, 4, 64]);
    assert.equal([...f.layer3.shape], [2, 8, 8, 32]);
    assert.equal([...f.pooled.shape], [2, 64]);
    assert.equal([...f.mlp!.shape], [2, 64]);
    assert.is(f.global, f.mlp);
    backward(sum(mul(f.global, f.global)));
  });
  assert.ok([...m.stateDict().keys()].includes('mlp.conv2.weight'));
  for (const p of [m.conv1.weight, m.mlp!.conv1.weight, (m.layers[3].layers[3] as BasicBlock).conv2.weight]) {
    assert.ok(p.grad && p.grad.dataSync().some((v) => v !== 0), `${p.name} got no gradient`);
  }
  m.zeroGrad();
});

test('the same forward on WebGPU (eval and train mode) matches PyTorch', async () => {
  const gpu = await gpuBackendOrSkip('resnet18 forward on webgpu');
  if (!gpu) return;
  const m = createBackbone('resnet18', { backend: gpu, init: 'zeros' });
  fillFromFormula(m);
  const xg = tensor(Float32Array.from(input.data as Float32Array), input.shape, { backend: gpu });
  for (const mode of ['eval', 'train'] as const) {
    m.train(mode === 'train');
    const f = tidy(() => noGrad(() => { const r = m.forwardFeatures(xg); return [r.layer3, r.localMap, r.pooled]; }));
    for (const [t, k] of [[f[0], 'layer3'], [f[1], 'localMap'], [f[2], 'pooled']] as const) {
      const err = relErr(await t.data() as Float32Array, get(`${mode}.${k}`).data as Float64Array);
      assert.ok(err <= TOL, `webgpu ${mode} ${k}: rel err ${err.toExponential(2)} > ${TOL}`);
      t.dispose();
    }
  }
  const err = relErr(await m.bn1.runningVar.data() as Float32Array, get('train.bn1.running_var').data as Float64Array);
  assert.ok(err <= TOL, `webgpu bn1.running_var after one training forward: rel err ${err}`);
});

test.run();
