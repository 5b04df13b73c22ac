// Wrong shapes are caught in TypeScript with every shape in the message.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu } from '../../src/backend/registry.js';
import * as op from '../../src/ops/index.js';
import { ShapeError } from '../../src/runtime/errors.js';

const z = (s: number[]) => op.zeros(s, { backend: cpu() });

function throwsShape(fn: () => unknown, ...parts: string[]) {
  try { fn(); } catch (e) {
    assert.instance(e, ShapeError);
    for (const p of parts) assert.ok((e as Error).message.includes(p), `"${(e as Error).message}" should mention ${p}`);
    return;
  }
  assert.unreachable('expected a ShapeError');
}

test('conv2d with mismatched channels names both shapes', () => {
  throwsShape(() => op.conv2d(z([2, 8, 8, 3]), z([16, 4, 3, 3])), '[2, 8, 8, 3]', '[16, 4, 3, 3]', '3 channels');
});
test('conv2d kernel larger than input', () => {
  throwsShape(() => op.conv2d(z([1, 2, 2, 3]), z([4, 3, 3, 3])), '[1, 2, 2, 3]', '[4, 3, 3, 3]');
});
test('matmul inner dims', () => {
  throwsShape(() => op.matmul(z([2, 3]), z([4, 5])), '[2, 3]', '[4, 5]');
});
test('broadcasting', () => {
  throwsShape(() => op.add(z([2, 3]), z([4, 3])), '[2, 3]', '[4, 3]');
});
test('linear', () => {
  throwsShape(() => op.linear(z([2, 3]), z([5, 4])), '[2, 3]', '[5, 4]');
});
test('batchNorm parameter size', () => {
  throwsShape(() => op.batchNorm(z([2, 4, 4, 3]), { gamma: z([4]), training: true }), '[2, 4, 4, 3]', '[4]');
});
test('reshape', () => {
  throwsShape(() => op.reshape(z([2, 3]), [4, 2]), '[2, 3]', '[4, 2]');
});
test('concat', () => {
  throwsShape(() => op.concat([z([2, 3]), z([3, 3])], 1), '[2, 3]', '[3, 3]');
});
test('crossEntropy', () => {
  assert.throws(() => op.crossEntropy(z([2, 3]), op.zeros([3], { backend: cpu(), dtype: 'i32' })), /\[2, 3\].*\[3\]/);
});

test.run();
