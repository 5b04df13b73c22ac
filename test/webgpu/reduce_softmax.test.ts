// WebGPU reductions (both kernel strategies and the two-pass path) and the softmax family vs
// the CPU reference.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ReduceOp } from '../../src/backend/backend.js';
import type { Shape } from '../../src/runtime/shape.js';
import { gpuBackendOrSkip, parity, randomTensor, type HostTensor } from '../helpers/gpu.js';

const SUITE = 'webgpu reduce/softmax';

function ok(name: string, r: { worst: number; where: string }): void {
  assert.ok(r.worst <= 1, `${name}: ${r.where}`);
}

const CASES: [Shape, number[]][] = [
  [[7, 5], [0]], [[7, 5], [1]], [[7, 5], [0, 1]],
  [[2, 3, 4, 5], [1, 3]],            // interleaved kept/reduced dims
  [[4, 1, 9, 6], [0, 1, 2]],         // per-channel NHWC sum (BN statistics shape)
  [[3, 300], [1]],                   // workgroup path, one chunk
  [[5, 1], [1]], [[6], []],          // size-1 reduction, no axes
  [[2, 20000], [1]], [[40000], [0]], // several chunks per output: second pass
  [[20000, 3], [0]],                 // long outer reduction
];

test('sum / max / mean over arbitrary axes', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  for (const [k, [shape, axes]] of CASES.entries()) {
    const x = randomTensor(shape, 90 + k);
    const out = shape.filter((_, i) => !axes.includes(i));
    for (const op of ['sum', 'max', 'mean'] as ReduceOp[]) {
      // Different summation orders: allow rounding growing with the reduced count.
      const R = shape.reduce((a, d, i) => (axes.includes(i) ? a * d : a), 1);
      const tol = op === 'max' ? { rtol: 0, atol: 1e-30 } : { rtol: 1e-5, atol: 1e-6 * Math.sqrt(R) * (op === 'mean' ? 1 / R : 1) * 4 };
      ok(`${op} ${JSON.stringify(shape)} axes [${axes}]`,
        await parity(gpu, [x], (be, [a]) => ({ storage: be.reduce(op, a, axes), shape: out, dtype: 'f32' }), tol));
    }
  }
});

test('softmax and log-softmax forward and backward', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  const shapes: Shape[] = [[4, 10], [3, 1], [2, 3, 17], [2, 1500]];
  for (const [k, shape] of shapes.entries()) {
    for (const logSpace of [false, true]) {
      const x = randomTensor(shape, 110 + k, { lo: -8, hi: 8 });
      const name = `${logSpace ? 'logSoftmax' : 'softmax'} ${JSON.stringify(shape)}`;
      const fwd = await parity(gpu, [x], (be, [a]) => ({ storage: be.softmax(a, logSpace), shape, dtype: 'f32' }));
      ok(name, fwd);
      const y: HostTensor = { data: fwd.cpu, shape, dtype: 'f32' };
      const dy = randomTensor(shape, 120 + k);
      ok(`${name} backward`, await parity(gpu, [y, dy], (be, [a, g]) => ({ storage: be.softmaxBackward(a, g, logSpace), shape, dtype: 'f32' })));
    }
  }
});

test('cross-entropy forward and backward', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  for (const [k, [N, K]] of [[5, 10], [1, 1], [3, 1200], [9, 7]].entries()) {
    const logits = randomTensor([N, K], 130 + k, { lo: -10, hi: 10 });
    const labels = randomTensor([N], 140 + k, { dtype: 'i32', lo: 0, hi: K });
    ok(`crossEntropy [${N}, ${K}]`, await parity(gpu, [logits, labels], (be, [x, l]) => ({ storage: be.crossEntropy(x, l), shape: [N], dtype: 'f32' })));
    const dLoss = randomTensor([N], 150 + k);
    ok(`crossEntropyBackward [${N}, ${K}]`, await parity(gpu, [logits, labels, dLoss],
      (be, [x, l, g]) => ({ storage: be.crossEntropyBackward(x, l, g), shape: [N, K], dtype: 'f32' })));
  }
});

test.run();
