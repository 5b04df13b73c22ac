// WebGPU data movement vs the CPU reference: permute, slice, pad, concat, gather, scatterAdd
// (with repeated indices: the deterministic sum), copyInto and views.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { numel, type Shape } from '../../src/runtime/shape.js';
import { gpuBackendOrSkip, parity, randomTensor, type HostTensor } from '../helpers/gpu.js';

const SUITE = 'webgpu layout';

function ok(name: string, r: { worst: number; where: string }): void {
  assert.ok(r.worst <= 1, `${name}: ${r.where}`);
}

test('permute on awkward shapes and dtypes', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  const cases: [Shape, number[]][] = [[[3, 5], [1, 0]], [[2, 3, 4, 5], [0, 2, 3, 1]], [[2, 1, 7, 3], [3, 1, 0, 2]],
    [[4, 3, 2, 1, 5, 2], [5, 4, 3, 2, 1, 0]], [[6, 7], [0, 1]]];
  for (const [k, [shape, perm]] of cases.entries()) {
    for (const dtype of ['f32', 'i32'] as const) {
      const x = randomTensor(shape, k, { dtype, lo: -100, hi: 100 });
      const out = perm.map((p) => shape[p]);
      ok(`permute ${JSON.stringify(shape)} [${perm}] ${dtype}`,
        await parity(gpu, [x], (be, [a]) => ({ storage: be.permute(a, perm), shape: out, dtype })));
    }
  }
});

test('slice and pad (its gradient)', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  const cases: [Shape, number[], number[]][] = [[[7, 9], [2, 3], [4, 5]], [[3, 5, 2, 6], [1, 0, 1, 2], [2, 5, 1, 3]],
    [[5], [4], [1]], [[2, 7, 7, 3], [0, 1, 1, 0], [2, 5, 5, 3]]];
  for (const [k, [shape, begin, size]] of cases.entries()) {
    const x = randomTensor(shape, 30 + k);
    ok(`slice ${JSON.stringify(shape)}`, await parity(gpu, [x], (be, [a]) => ({ storage: be.slice(a, begin, size), shape: size, dtype: 'f32' })));
    const y = randomTensor(size, 40 + k);
    ok(`pad into ${JSON.stringify(shape)}`, await parity(gpu, [y], (be, [a]) => ({ storage: be.pad(a, begin, shape), shape, dtype: 'f32' })));
  }
});

test('concat along every axis', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  const base: Shape = [3, 4, 5];
  for (let axis = 0; axis < 3; axis++) {
    const parts: HostTensor[] = [1, 3, 2].map((d, i) => randomTensor(base.map((s, j) => (j === axis ? d : s)), 50 + i));
    const out = base.map((s, j) => (j === axis ? 6 : s));
    ok(`concat axis ${axis}`, await parity(gpu, parts, (be, xs) => ({ storage: be.concat(xs, axis), shape: out, dtype: 'f32' })));
  }
});

test('gather and deterministic scatterAdd with repeated indices', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  const shape: Shape = [3, 7, 5];
  const idx: HostTensor = { data: Int32Array.from([6, 0, 0, 3, 6, 6, 1]), shape: [7], dtype: 'i32' };
  for (let axis = 0; axis < 3; axis++) {
    const A = shape[axis];
    const ix: HostTensor = { ...idx, data: Int32Array.from(idx.data as Int32Array, (v) => v % A) };
    const x = randomTensor(shape, 60 + axis);
    const out = shape.map((s, j) => (j === axis ? 7 : s));
    ok(`gather axis ${axis}`, await parity(gpu, [x, ix], (be, [a, i]) => ({ storage: be.gather(a, axis, i), shape: out, dtype: 'f32' })));
    const dy = randomTensor(out, 70 + axis);
    const r = await parity(gpu, [dy, ix], (be, [g, i]) => ({ storage: be.scatterAdd(g, axis, i, shape), shape, dtype: 'f32' }));
    ok(`scatterAdd axis ${axis}`, r);
    const again = await parity(gpu, [dy, ix], (be, [g, i]) => ({ storage: be.scatterAdd(g, axis, i, shape), shape, dtype: 'f32' }));
    assert.equal(Array.from(again.gpu), Array.from(r.gpu), 'scatterAdd is bitwise deterministic');
  }
});

test('copyInto and views of a flat buffer', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  const flat = gpu.fill(256, 'f32', 0);
  const a = randomTensor([3, 5], 80), b = randomTensor([70], 81);
  gpu.copyInto({ storage: flat, shape: [256], dtype: 'f32' }, 64, { storage: gpu.upload(a.data, 'f32'), shape: a.shape, dtype: 'f32' });
  gpu.copyInto({ storage: flat, shape: [256], dtype: 'f32' }, 128, { storage: gpu.upload(b.data, 'f32'), shape: b.shape, dtype: 'f32' });
  const all = await gpu.download({ storage: flat, shape: [256], dtype: 'f32' });
  assert.equal(Array.from(all.slice(64, 79)), Array.from(a.data));
  assert.equal(Array.from(all.slice(128, 198)), Array.from(b.data));
  assert.ok(all.slice(0, 64).every((v) => v === 0) && all.slice(79, 128).every((v) => v === 0));
  // A view reads and writes the region in place.
  const view = gpu.view(flat, 128, 70, 'f32');
  const got = await gpu.download({ storage: view, shape: [70], dtype: 'f32' });
  assert.equal(Array.from(got), Array.from(b.data));
  const doubled = gpu.scalar('mul', { storage: view, shape: [70], dtype: 'f32' }, 2);
  assert.equal(Array.from(await gpu.download({ storage: doubled, shape: [70], dtype: 'f32' })), Array.from(b.data, (v) => Math.fround(2 * v)));
  gpu.release(view); // never frees the base
  assert.equal(numel([256]), (await gpu.download({ storage: flat, shape: [256], dtype: 'f32' })).length);
});

test.run();
