// f64 finite-difference checks of every differentiable op on the CPU reference backend.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { gradcheck, leaf } from '../helpers/gradcheck.js';
import { Rng } from '../../src/runtime/rng.js';
import { cpu } from '../../src/backend/registry.js';
import * as op from '../../src/ops/index.js';
import { tensor } from '../../src/ops/index.js';

const rng = new Rng(7);
const check = (name: string, fn: Parameters<typeof gradcheck>[1], inputs: Parameters<typeof gradcheck>[2], o = {}) =>
  test(`gradcheck ${name}`, () => { assert.ok(gradcheck(name, fn, inputs, o) < 1e-4); });

// Elementwise, with broadcasting in both directions.
check('add broadcast', (a, b) => op.add(a, b), [leaf([2, 3, 4], rng), leaf([3, 1], rng)]);
check('sub broadcast', (a, b) => op.sub(a, b), [leaf([4], rng), leaf([2, 3, 4], rng)]);
check('mul broadcast', (a, b) => op.mul(a, b), [leaf([2, 1, 4], rng), leaf([3, 1], rng)]);
check('div broadcast', (a, b) => op.div(a, b), [leaf([2, 3], rng), op.addScalar(op.abs(leaf([1, 3], rng)), 0.5)]);
check('maximum', (a, b) => op.maximum(a, b), [leaf([5, 3], rng), leaf([3], rng)]);
check('scalar ops', (a) => op.powScalar(op.rsubScalar(op.addScalar(op.mulScalar(a, 0.7), 0.2), 3), 2), [leaf([7], rng)]);
check('exp log sqrt', (a) => op.sqrt(op.log(op.addScalar(op.exp(a), 1))), [leaf([6], rng)]);
check('rsqrt square abs', (a) => op.rsqrt(op.addScalar(op.square(op.abs(a)), 0.3)), [leaf([6], rng)]);
check('relu', (a) => op.relu(a), [leaf([4, 5], rng)]);
check('gelu', (a) => op.gelu(a), [leaf([4, 5], rng, 2)]);
check('sigmoid tanh', (a) => op.tanh(op.sigmoid(a)), [leaf([9], rng)]);
check('clampMin', (a) => op.clampMin(a, 0.1), [leaf([9], rng)]);

// Reductions.
check('sum axes keepDims', (a) => op.sum(a, [0, 2], true), [leaf([2, 3, 4], rng)]);
check('mean all', (a) => op.mean(a), [leaf([3, 5], rng)]);
check('max axis', (a) => op.max(a, 1), [leaf([3, 5, 2], rng)]);

// Layout.
check('reshape permute', (a) => op.permute(op.reshape(a, [3, 2, 4]), [2, 0, 1]), [leaf([6, 4], rng)]);
check('flatten transpose', (a) => op.transpose(op.flatten(a, 1)), [leaf([2, 3, 2, 2], rng)]);
check('slice', (a) => op.slice(a, [1, 0, 2], [2, -1, 3]), [leaf([4, 3, 6], rng)]);
check('concat', (a, b) => op.concat([a, b, a], 1), [leaf([2, 3, 2], rng), leaf([2, 1, 2], rng)]);
check('gather positions', (a) => op.gather(a, 1, tensor([4, 0, 4, 2], [4], { dtype: 'i32', backend: cpu() })), [leaf([2, 5, 3], rng)]);

// Linear algebra.
for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]]) {
  const a = leaf(tA ? [4, 3] : [3, 4], rng), b = leaf(tB ? [5, 4] : [4, 5], rng);
  check(`matmul tA=${tA} tB=${tB}`, (x, y) => op.matmul(x, y, { transA: tA, transB: tB }), [a, b]);
}
check('batched matmul', (a, b) => op.matmul(a, b, { transB: true }), [leaf([2, 3, 4], rng), leaf([2, 5, 4], rng)]);
check('linear', (x, w, b) => op.linear(x, w, b), [leaf([3, 4], rng), leaf([2, 4], rng), leaf([2], rng)]);

// Convolution: 1×1, 3×3 s1 p1 with bias, 3×3 s2 p1 on odd non-square maps, 7×7 s2 p3.
check('conv 1x1', (x, w) => op.conv2d(x, w), [leaf([2, 3, 4, 3], rng), leaf([5, 3, 1, 1], rng)]);
check('conv 3x3 s1 p1 bias', (x, w, b) => op.conv2d(x, w, b, { padding: 1 }), [leaf([1, 4, 5, 2], rng), leaf([3, 2, 3, 3], rng), leaf([3], rng)]);
check('conv 3x3 s2 p1', (x, w) => op.conv2d(x, w, null, { stride: 2, padding: 1 }), [leaf([2, 7, 5, 2], rng), leaf([3, 2, 3, 3], rng)]);
check('conv 7x7 s2 p3', (x, w) => op.conv2d(x, w, null, { stride: 2, padding: 3 }), [leaf([1, 9, 8, 2], rng), leaf([2, 2, 7, 7], rng)]);
check('conv 3x3 s2 p0', (x, w) => op.conv2d(x, w, null, { stride: 2 }), [leaf([1, 8, 7, 3], rng), leaf([2, 3, 3, 3], rng)]);
// Residual blocks: x's second gradient reaches a convolution's backward-data as `accumulate`
// (claimPendingGrad), for a 1×1 and a 3×3 conv, the shortcut first or last in the graph.
check('residual: x + conv1x1(x)', (x, w) => op.add(x, op.conv2d(x, w)), [leaf([2, 3, 4, 3], rng), leaf([3, 3, 1, 1], rng)]);
check('residual: conv3x3(x) + x, then conv1x1', (x, w, v) => op.conv2d(op.add(op.conv2d(x, w, null, { padding: 1 }), x), v),
  [leaf([1, 4, 5, 2], rng), leaf([2, 2, 3, 3], rng), leaf([3, 2, 1, 1], rng)]);
check('two convs of one input and a shortcut', (x, w, v) => op.add(op.add(op.conv2d(x, w), op.relu(x)), op.conv2d(x, v, null, { padding: 1 })),
  [leaf([2, 3, 3, 2], rng), leaf([2, 2, 1, 1], rng), leaf([2, 2, 3, 3], rng)]);

// Pooling.
check('maxPool 3x3 s2 p1', (x) => op.maxPool2d(x), [leaf([2, 7, 6, 3], rng)]);
check('globalAvgPool', (x) => op.globalAvgPool2d(x), [leaf([2, 3, 5, 4], rng)]);

// Batch norm (training statistics; 2d and 1d, with and without affine) and eval mode.
check('batchNorm2d train', (x, g, b) => op.batchNorm(x, { gamma: g, beta: b, training: true }), [leaf([2, 3, 2, 4], rng), leaf([4], rng), leaf([4], rng)]);
// The fused epilogues a residual block ends with: relu(bn(x)) and relu(bn(x) + shortcut).
check('batchNorm2d train + relu', (x, g, b) => op.batchNorm(x, { gamma: g, beta: b, training: true, relu: true }), [leaf([2, 3, 2, 4], rng), leaf([4], rng), leaf([4], rng)]);
check('batchNorm2d train + residual + relu', (x, g, b, r) => op.batchNorm(x, { gamma: g, beta: b, training: true, residual: r, relu: true }),
  [leaf([2, 2, 3, 3], rng), leaf([3], rng), leaf([3], rng), leaf([2, 2, 3, 3], rng)]);
check('batchNorm1d train + residual', (x, r) => op.batchNorm(x, { training: true, residual: r }), [leaf([5, 3], rng), leaf([5, 3], rng)]);
check('batchNorm eval + residual + relu', (x, r) => op.batchNorm(x, {
  training: false, residual: r, relu: true,
  runningMean: tensor([0.1, -0.2, 0.3], [3], { dtype: 'f64', backend: cpu() }),
  runningVar: tensor([0.5, 1.5, 2.0], [3], { dtype: 'f64', backend: cpu() }),
}), [leaf([2, 2, 2, 3], rng), leaf([2, 2, 2, 3], rng)]);
check('batchNorm1d train no affine', (x) => op.batchNorm(x, { training: true }), [leaf([5, 3], rng)]);
// Two and three groups of the batch with statistics of their own (views batched together).
check('batchNorm2d train, 2 groups + residual + relu', (x, g, b, r) => op.batchNorm(x, { gamma: g, beta: b, training: true, groups: 2, residual: r, relu: true }),
  [leaf([4, 2, 3, 3], rng), leaf([3], rng), leaf([3], rng), leaf([4, 2, 3, 3], rng)]);
check('batchNorm1d train, 3 groups', (x, g, b) => op.batchNorm(x, { gamma: g, beta: b, training: true, groups: 3 }), [leaf([6, 5], rng), leaf([5], rng), leaf([5], rng)]);
check('batchNorm eval', (x, g, b) => op.batchNorm(x, {
  gamma: g, beta: b, training: false,
  runningMean: tensor([0.1, -0.2, 0.3], [3], { dtype: 'f64', backend: cpu() }),
  runningVar: tensor([0.5, 1.5, 2.0], [3], { dtype: 'f64', backend: cpu() }),
}), [leaf([2, 2, 2, 3], rng), leaf([3], rng), leaf([3], rng)]);

// A training-mode batch norm (+ ReLU) folded into the convolution it feeds: the map is remade in
// backward (InputNorm, reluFromInput), so its gradient is checked on its own.
check('batchNormConv2d relu 3x3 s1 p1', (x, g, b, w) => op.batchNormConv2d(x, { gamma: g, beta: b, training: true, relu: true }, w, null, { padding: 1 }),
  [leaf([2, 3, 4, 3], rng), leaf([3], rng), leaf([3], rng), leaf([2, 3, 3, 3], rng)]);
check('batchNormConv2d relu 1x1 + bias', (x, g, b, w, c) => op.batchNormConv2d(x, { gamma: g, beta: b, training: true, relu: true }, w, c),
  [leaf([2, 2, 3, 4], rng), leaf([4], rng), leaf([4], rng), leaf([3, 4, 1, 1], rng), leaf([3], rng)]);
check('batchNormConv2d 2 groups, 3x3 s2, no ReLU', (x, g, b, w) => op.batchNormConv2d(x, { gamma: g, beta: b, training: true, groups: 2 }, w, null, { stride: 2, padding: 1 }),
  [leaf([4, 5, 4, 2], rng), leaf([2], rng), leaf([2], rng), leaf([3, 2, 3, 3], rng)]);
check('batchNormConv2d no affine + relu', (x, w) => op.batchNormConv2d(x, { training: true, relu: true }, w),
  [leaf([3, 2, 2, 3], rng), leaf([2, 3, 1, 1], rng)]);

// Normalisation and similarity (local map [B, P, D] against a global vector [B, 1, D]).
check('l2Normalize', (x) => op.l2Normalize(x, 1), [leaf([3, 4, 2], rng)]);
check('cosine local vs global', (l, g) => op.cosineSimilarity(l, g, -1), [leaf([2, 5, 4], rng), leaf([2, 1, 4], rng)]);

// Softmax family and losses.
check('softmax T=0.1', (x) => op.softmax(x, 0.1), [leaf([3, 5], rng, 0.3)]);
check('logSoftmax T=0.2', (x) => op.logSoftmax(x, 0.2), [leaf([3, 5], rng, 0.3)]);
check('crossEntropy', (x) => op.crossEntropy(x, tensor([1, 0, 4], [3], { dtype: 'i32', backend: cpu() })), [leaf([3, 5], rng)]);
check('softCrossEntropy', (x, t) => op.softCrossEntropy(x, op.softmax(t), 0.5), [leaf([3, 4], rng), leaf([3, 4], rng)]);

// CO-SSL fused local loss: gradients flow to local and global predictions only.
check('localCosineLoss', (pl, p) => op.localCosineLoss(pl, zgT, p, zlT), [leaf([2, 3, 4], rng), leaf([2, 4], rng)]);
const zgT = leaf([2, 4], rng), zlT = leaf([2, 3, 4], rng);

test('localCosineLoss equals the composed broadcast-cosine definition', () => {
  const pl = leaf([3, 5, 4], rng), zg = leaf([3, 4], rng), p = leaf([3, 4], rng), zl = leaf([3, 5, 4], rng);
  const fused = op.localCosineLoss(pl, zg, p, zl).dataSync()[0];
  const t1 = op.cosineSimilarity(pl, op.reshape(zg, [3, 1, 4]));
  const t2 = op.cosineSimilarity(op.reshape(p, [3, 1, 4]), zl);
  const composed = -op.mean(op.add(t1, t2)).dataSync()[0] * 1; // mean over B and P of the sum
  assert.ok(Math.abs(fused - composed) < 1e-12, `${fused} vs ${composed}`);
});

test.run();
