// conv2d forward and backward against PyTorch (test/fixtures/core_conv2d.json): the output and
// the gradients of sum(y * dy) w.r.t. input, weight and bias, on the CPU backend (f32, f64) and
// on WebGPU when an adapter exists.
import { test } from 'uvu';
import { conv2d, mul, sum, backward } from '../../src/ops/index.js';
import { tidy, type Tensor } from '../../src/tensor.js';
import { cpuTargets, expectClose, fromFixture, loadFixture, webgpuTargetOrSkip, type Target } from '../helpers/fixtures.js';

const file = loadFixture('core_conv2d.json');
const gpu = await webgpuTargetOrSkip('golden conv2d');
const targets: Target[] = [...cpuTargets(), ...(gpu ? [gpu] : [])];

for (const c of file.cases) {
  for (const t of targets) {
    test(`conv2d ${c.name} matches PyTorch [${t.label}]`, async () => {
      const x = fromFixture(c.inputs.x, t, true);
      const w = fromFixture(c.inputs.w, t, true);
      const b = c.inputs.b ? fromFixture(c.inputs.b, t, true) : null;
      const dy = fromFixture(c.inputs.dy, t);
      const made: Tensor[] = [x, w, dy, ...(b ? [b] : [])];
      try {
        // tidy frees the loss and the product; y is returned, so it survives until `finally`.
        const y = tidy(() => {
          const out = conv2d(x, w, b, { stride: Number(c.params.stride), padding: Number(c.params.padding) });
          backward(sum(mul(out, dy)));
          return out;
        });
        made.push(y);
        await expectClose(y, c.outputs.y, t, `${c.name} y`);
        await expectClose(x.grad, c.outputs.dx, t, `${c.name} dx`);
        await expectClose(w.grad, c.outputs.dw, t, `${c.name} dw`);
        if (b) await expectClose(b.grad, c.outputs.db, t, `${c.name} db`);
      } finally {
        for (const m of made) { m.grad?.dispose(); m.dispose(); }
      }
    });
  }
}

test('the conv2d fixture covers the cases the engine relies on', () => {
  // Guards against a regenerated fixture silently dropping a case.
  const names = file.cases.map((c) => c.name).sort();
  const want = ['conv1x1_s1_bias', 'conv3x3_s1_p1_bias', 'conv3x3_s2_p1_nobias_odd', 'conv7x7_s2_p3_stem'];
  if (names.join() !== want.join()) throw new Error(`core_conv2d.json cases: ${names.join(', ')}`);
});

test.run();
