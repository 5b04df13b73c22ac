// WebGPU elementwise kernels vs the CPU reference: every unary op, activation gradients,
// broadcasting binary ops on awkward shapes, scalar ops, fill and casts (u8 packing included).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { BinaryOp, ScalarOp, UnaryGradOp, UnaryOp } from '../../src/backend/backend.js';
import { broadcastShapes, type Shape } from '../../src/runtime/shape.js';
import { gpuBackendOrSkip, parity, randomTensor, type HostTensor } from '../helpers/gpu.js';

const SUITE = 'webgpu elementwise';

function ok(name: string, r: { worst: number; where: string }): void {
  assert.ok(r.worst <= 1, `${name}: ${r.where} (violation ×${r.worst.toFixed(2)})`);
}

/** Inputs inside each op's domain. */
function inputFor(op: UnaryOp, shape: Shape, seed: number): HostTensor {
  const positive = op === 'log' || op === 'sqrt' || op === 'rsqrt';
  return randomTensor(shape, seed, positive ? { lo: 0.05, hi: 4 } : { lo: -6, hi: 6 });
}

const UNARY: UnaryOp[] = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'square', 'reciprocal', 'relu', 'gelu', 'sigmoid', 'tanh', 'sign'];

test('unary ops (f32) match the CPU', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  for (const [k, op] of UNARY.entries()) {
    const x = inputFor(op, [3, 1, 37], 10 + k);
    ok(op, await parity(gpu, [x], (be, [a]) => ({ storage: be.unary(op, a), shape: a.shape, dtype: a.dtype })));
  }
});

test('unary ops on i32', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  for (const op of ['neg', 'abs', 'square', 'relu', 'sign'] as UnaryOp[]) {
    const x = randomTensor([5, 7], 3, { dtype: 'i32', lo: -50, hi: 50 });
    ok(`${op} i32`, await parity(gpu, [x], (be, [a]) => ({ storage: be.unary(op, a), shape: a.shape, dtype: a.dtype })));
  }
});

test('activation gradients match the CPU', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  for (const op of ['relu', 'gelu', 'sigmoid', 'tanh'] as UnaryGradOp[]) {
    const x = randomTensor([4, 33], 20, { lo: -6, hi: 6 }), dy = randomTensor([4, 33], 21);
    ok(`${op}'`, await parity(gpu, [x, dy], (be, [a, g]) => ({ storage: be.unaryGrad(op, a, g), shape: a.shape, dtype: a.dtype })));
  }
});

const BCAST: [Shape, Shape][] = [
  [[7, 5], [7, 5]],             // same shape: fast path
  [[7, 5], [5]],                // row vector
  [[7, 1], [1, 5]],             // outer product shape
  [[2, 3, 1, 4], [3, 5, 1]],    // ranks differ, size-1 both sides
  [[1], [4, 1, 3]],             // scalar-like
  [[2, 1, 3, 1, 2, 3], [1, 4, 1, 5, 2, 1]], // rank 6
  [[6, 1, 1, 2], [6, 9, 7, 2]],
];

test('binary ops broadcast like NumPy (f32 and i32)', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  const ops: BinaryOp[] = ['add', 'sub', 'mul', 'div', 'max', 'min', 'gt', 'eq'];
  for (const [i, [sa, sb]] of BCAST.entries()) {
    const out = broadcastShapes(sa, sb);
    for (const op of ops) {
      const a = randomTensor(sa, 100 + i), b = op === 'div' ? randomTensor(sb, 200 + i, { lo: 0.5, hi: 3 }) : randomTensor(sb, 200 + i);
      // eq needs hits: compare a with itself-broadcast when shapes allow, else rounded values
      const [ra, rb] = op === 'eq' ? [round(a), round(b)] : [a, b];
      ok(`${op} ${JSON.stringify(sa)}·${JSON.stringify(sb)}`,
        await parity(gpu, [ra, rb], (be, [x, y]) => ({ storage: be.binary(op, x, y, out), shape: out, dtype: x.dtype })));
    }
    const ai = randomTensor(sa, 300 + i, { dtype: 'i32', lo: -9, hi: 9 }), bi = randomTensor(sb, 400 + i, { dtype: 'i32', lo: 1, hi: 9 });
    for (const op of ['add', 'sub', 'mul', 'div', 'max', 'gt', 'eq'] as BinaryOp[]) {
      ok(`${op} i32`, await parity(gpu, [ai, bi], (be, [x, y]) => ({ storage: be.binary(op, x, y, out), shape: out, dtype: x.dtype })));
    }
  }
});

function round(t: HostTensor): HostTensor {
  return { ...t, data: Float32Array.from(t.data as Float32Array, (v) => Math.round(v)) };
}

test('scalar ops, including pow of negative bases', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  const cases: [ScalarOp, number][] = [['add', 1.5], ['mul', -0.25], ['rsub', 3], ['rdiv', 2], ['max', 0.1], ['min', -0.3],
    ['pow', 2], ['pow', 3], ['pow', 0], ['pow', 0.5], ['pow', -1]];
  for (const [op, s] of cases) {
    const x = op === 'pow' && !Number.isInteger(s) ? randomTensor([9, 11], 7, { lo: 0.1, hi: 3 })
      : op === 'rdiv' || (op === 'pow' && s < 0) ? randomTensor([9, 11], 7, { lo: 0.5, hi: 3 }) : randomTensor([9, 11], 7);
    ok(`${op} ${s}`, await parity(gpu, [x], (be, [a]) => ({ storage: be.scalar(op, a, s), shape: a.shape, dtype: a.dtype })));
  }
  const xi = randomTensor([13], 8, { dtype: 'i32', lo: -20, hi: 20 });
  ok('mul i32', await parity(gpu, [xi], (be, [a]) => ({ storage: be.scalar('mul', a, 3), shape: a.shape, dtype: a.dtype })));
});

test('fill and cast (f32, i32, packed u8)', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  for (const [dtype, v] of [['f32', -1.25], ['i32', 7], ['u8', 200]] as const) {
    for (const n of [1, 5, 1027]) {
      const got = await gpu.download({ storage: gpu.fill(n, dtype, v), shape: [n], dtype });
      assert.equal(got.length, n);
      assert.ok(Array.from(got).every((x) => x === v), `fill ${dtype} ${n}`);
    }
  }
  const f = randomTensor([3, 7], 5, { lo: -300, hi: 300 });
  const u = randomTensor([3, 7], 6, { dtype: 'u8', lo: 0, hi: 256 });
  const i = randomTensor([3, 7], 7, { dtype: 'i32', lo: -1000, hi: 1000 });
  for (const [src, dst] of [[f, 'i32'], [f, 'u8'], [u, 'f32'], [u, 'i32'], [i, 'f32'], [i, 'u8'], [f, 'f32']] as const) {
    ok(`cast ${src.dtype}→${dst}`, await parity(gpu, [src], (be, [a]) => ({ storage: be.cast(a, dst), shape: a.shape, dtype: dst })));
  }
});

test('f64 is refused with a clear error', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  assert.throws(() => gpu.upload(new Float64Array(3), 'f64'), /f64 is not supported on the webgpu backend/);
});

test.run();
