// Batch-norm finalisation on WebGPU vs the CPU: invstd, and the in-place running-statistics
// update and batch counter; and batchStatistics, which does moments and all of that from x in
// two dispatches.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend } from '../../src/backend/backend.js';
import { cpu } from '../../src/backend/registry.js';
import { gpuBackendOrSkip, randomTensor, toRaw } from '../helpers/gpu.js';

async function run(be: Backend, C: number, withRunning: boolean) {
  const mean = toRaw(be, randomTensor([C], 1)), variance = toRaw(be, randomTensor([C], 2, { lo: 0, hi: 2 }));
  const rm = toRaw(be, randomTensor([C], 3)), rv = toRaw(be, randomTensor([C], 4, { lo: 0.5, hi: 1 }));
  const count = toRaw(be, { data: Int32Array.from([41]), shape: [], dtype: 'i32' });
  const inv = be.batchNormFinalize(mean, variance, 1e-5, withRunning ? { mean: rm, variance: rv, count, momentum: 0.1, n: 7 } : null);
  return [await be.download({ storage: inv, shape: [C], dtype: 'f32' }), await be.download(rm), await be.download(rv), await be.download(count)];
}

for (const [C, running] of [[5, true], [130, true], [3, false]] as const) {
  test(`batchNormFinalize C=${C} running=${running}`, async () => {
    const gpu = await gpuBackendOrSkip('webgpu batchnorm finalize');
    if (!gpu) return;
    const got = await run(gpu, C, running), want = await run(cpu(), C, running);
    got.forEach((g, k) => g.forEach((x, i) => assert.ok(Math.abs(x - want[k][i]) <= 1e-6 + 1e-5 * Math.abs(want[k][i]), `out ${k}[${i}]: ${x} vs ${want[k][i]}`)));
    assert.is(got[3][0], running ? 42 : 41);
  });
}

async function runStats(be: Backend, M: number, C: number, withRunning: boolean) {
  // An offset mean (|mean| ≫ std) checks the shifted sums survive the fusion.
  const x = toRaw(be, randomTensor([M, C], 11, { lo: 40, hi: 42 }));
  const rm = toRaw(be, randomTensor([C], 3)), rv = toRaw(be, randomTensor([C], 4, { lo: 0.5, hi: 1 }));
  const count = toRaw(be, { data: Int32Array.from([7]), shape: [], dtype: 'i32' });
  const r = be.batchStatistics(x, 1e-5, withRunning ? { mean: rm, variance: rv, count, momentum: 0.1, n: M } : null);
  return [await be.download({ storage: r.mean, shape: [C], dtype: 'f32' }), await be.download({ storage: r.invstd, shape: [C], dtype: 'f32' }),
    await be.download(rm), await be.download(rv), await be.download(count)];
}

for (const [M, C, running] of [[3, 5, true], [1000, 130, true], [4099, 64, true], [2, 3, false], [70000, 8, true]] as const) {
  test(`batchStatistics [${M}, ${C}] running=${running}`, async () => {
    const gpu = await gpuBackendOrSkip('webgpu batchnorm finalize');
    if (!gpu) return;
    const got = await runStats(gpu, M, C, running), want = await runStats(cpu(), M, C, running);
    const names = ['mean', 'invstd', 'running mean', 'running var'];
    for (let k = 0; k < 4; k++) {
      got[k].forEach((x, i) => assert.ok(Math.abs(x - want[k][i]) <= 1e-6 + 2e-4 * Math.abs(want[k][i]), `${names[k]}[${i}]: ${x} vs ${want[k][i]}`));
    }
    assert.is(got[4][0], running ? 8 : 7);
  });
}

test.run();
