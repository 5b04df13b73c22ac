// Tape semantics: accumulation, noGrad, detach, input gradients, release after backward.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu } from '../../src/backend/registry.js';
import * as op from '../../src/ops/index.js';
import { keep, tidy, type Tensor } from '../../src/tensor.js';

const f64 = (v: number[], s: number[], rg = false) => op.tensor(v, s, { dtype: 'f64', backend: cpu(), requiresGrad: rg });

test('a tensor used twice accumulates both gradients (residual)', () => {
  const x = f64([1, 2, 3], [3], true);
  const y = op.sum(op.add(op.mul(x, x), x)); // d/dx = 2x + 1
  op.backward(y);
  assert.equal([...x.grad!.dataSync()], [3, 5, 7]);
});

test('a convolution takes the pending gradient of its input into its backward-data (no separate add)', () => {
  const x = f64([1, -2, 3, 0.5, 2, -1], [1, 1, 2, 3], true);
  const w = f64([1, 0, 2, -1, 1, 0.5], [2, 3, 1, 1]);
  const seen: (Tensor | null)[] = [];
  const be = x.backend as { conv2dBackwardData: (...a: unknown[]) => unknown };
  const plain = be.conv2dBackwardData;
  be.conv2dBackwardData = (...a: unknown[]) => { seen.push((a[4] as Tensor | null | undefined) ?? null); return plain.apply(be, a); };
  try {
    // the shortcut's gradient (ones) is pending when the convolution's backward runs
    const c = op.conv2d(x, w);
    op.backward(op.add(op.sum(op.mul(c, c)), op.sum(x)));
    assert.equal(seen.length, 1);
    assert.ok(seen[0] !== null, 'the convolution took the pending gradient');
    // d/dx of Σ(conv(x)²) + Σx = 2·conv(x)·w summed over outputs + 1
    const y = [1 * 1 + 0 * -2 + 2 * 3, -1 * 1 + 1 * -2 + 0.5 * 3, 1 * 0.5 + 0 * 2 + 2 * -1, -1 * 0.5 + 1 * 2 + 0.5 * -1];
    const want = [0, 1].flatMap((p) => [0, 1, 2].map((c) => 2 * (y[2 * p] * [1, 0, 2][c] + y[2 * p + 1] * [-1, 1, 0.5][c]) + 1));
    assert.equal([...x.grad!.dataSync()].map((v) => +v.toFixed(9)), want.map((v) => +v.toFixed(9)));
  } finally {
    be.conv2dBackwardData = plain;
  }
});

test('backward accumulates into .grad across calls', () => {
  const x = f64([1, 2], [2], true);
  op.backward(op.sum(op.mulScalar(x, 3)));
  op.backward(op.sum(op.mulScalar(x, 2)));
  assert.equal([...x.grad!.dataSync()], [5, 5]);
});

test('noGrad records nothing', () => {
  const x = f64([1, 2], [2], true);
  const y = op.noGrad(() => op.mul(x, x));
  assert.is(y.requiresGrad, false);
  assert.is(y.node, null);
});

test('detach stops the gradient (BYOL stop-gradient)', () => {
  const x = f64([1, 2], [2], true);
  const y = op.sum(op.mul(x, op.detach(x))); // d/dx = detach(x) only
  op.backward(y);
  assert.equal([...x.grad!.dataSync()], [1, 2]);
});

test('grad() returns input gradients without touching .grad', () => {
  const img = f64([0.5, -1, 2], [3], true);
  const w = f64([1, 2, 3], [3], true);
  const [gi] = op.grad(op.sum(op.mul(op.relu(img), w)), [img]);
  assert.equal([...gi!.dataSync()], [1, 0, 3]);
  assert.is(img.grad, null);
  assert.is(w.grad, null);
});

test('grad() of an intermediate (non-leaf) tensor', () => {
  const x = f64([1, 2], [2], true);
  const h = op.mulScalar(x, 3);
  const [gh] = op.grad(op.sum(op.square(h)), [h]);
  assert.equal([...gh!.dataSync()], [6, 12]);
});

test('the tape is released after backward, kept with retainGraph', () => {
  const x = f64([1, 2], [2], true);
  const h = op.exp(x);
  const y = op.sum(h);
  op.backward(y, { retainGraph: true });
  assert.ok(h.node !== null);
  op.backward(y);
  assert.is(h.node, null);
  assert.is(y.node, null);
  assert.throws(() => op.backward(y), /already freed/);
});

test('backward of a non-scalar needs an explicit gradient', () => {
  const x = f64([1, 2], [2], true);
  assert.throws(() => op.backward(op.mulScalar(x, 2)), /pass a gradient/);
  op.backward(op.mulScalar(x, 2), { gradient: f64([1, 10], [2]) });
  assert.equal([...x.grad!.dataSync()], [2, 20]);
});

test('a 300-layer chain backpropagates without recursion limits', () => {
  const x = f64([0.1], [1], true);
  let h = x;
  for (let i = 0; i < 3000; i++) h = op.addScalar(h, 0.001);
  op.backward(op.sum(h));
  assert.equal([...x.grad!.dataSync()], [1]);
});

test('tidy disposes intermediates but saved tensors survive until backward', () => {
  const x = f64([1, 2, 3], [3], true);
  const loss = tidy(() => op.sum(op.exp(op.mulScalar(x, 2))));
  op.backward(loss); // exp's saved output must still be readable
  const g = [...x.grad!.dataSync()];
  assert.ok(Math.abs(g[0] - 2 * Math.exp(2)) < 1e-12);
});

test('tidy keeps returned tensors and disposes the rest', () => {
  let inner: ReturnType<typeof f64> | null = null;
  const out = tidy(() => { inner = op.mulScalar(f64([1], [1]), 2); return op.addScalar(inner, 1); });
  assert.is(inner!.isDisposed, true);
  assert.is(out.isDisposed, false);
  assert.throws(() => inner!.dataSync(), /after dispose/);
});

test('tidy disposes what it created when its function throws (not what is kept), and the error goes on', () => {
  let inner: ReturnType<typeof f64> | null = null, held: ReturnType<typeof f64> | null = null;
  assert.throws(() => tidy(() => {
    inner = op.mulScalar(f64([1], [1]), 2);
    held = keep(op.addScalar(inner, 1));
    throw new Error('a step that fails midway');
  }), /a step that fails midway/);
  assert.is(inner!.isDisposed, true);
  assert.is(held!.isDisposed, false);
});

test.run();
