// The fused local cosine loss on WebGPU vs the CPU reference: forward and both gradients, on
// shapes with odd P and D, batch 1, and D larger than a workgroup.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend } from '../../src/backend/backend.js';
import { cpu } from '../../src/backend/registry.js';
import { gpuBackendOrSkip, randomTensor, toRaw } from '../helpers/gpu.js';

const SUITE = 'webgpu local loss';

async function run(be: Backend, B: number, P: number, D: number) {
  const [pl, zg, p, zl, dl] = [[B, P, D], [B, D], [B, D], [B, P, D], [B]].map((s, k) => toRaw(be, randomTensor(s, 10 + k)));
  const loss = await be.download({ storage: be.localCosine(pl, zg, p, zl), shape: [B], dtype: 'f32' });
  const g = be.localCosineBackward(pl, zg, p, zl, dl);
  const dpl = await be.download({ storage: g.dpl, shape: [B, P, D], dtype: 'f32' });
  const dp = await be.download({ storage: g.dp, shape: [B, D], dtype: 'f32' });
  return [loss, dpl, dp];
}

for (const [B, P, D] of [[2, 5, 7], [1, 1, 3], [3, 49, 130], [2, 196, 256]]) {
  test(`localCosine fwd/bwd B=${B} P=${P} D=${D}`, async () => {
    const gpu = await gpuBackendOrSkip(SUITE);
    if (!gpu) return;
    const got = await run(gpu, B, P, D), want = await run(cpu(), B, P, D);
    ['loss', 'dpl', 'dp'].forEach((name, k) => {
      const scale = Math.max(...Array.from(want[k], Math.abs), 1e-6);
      got[k].forEach((x, i) => assert.ok(Math.abs(x - want[k][i]) <= 2e-5 * scale, `${name}[${i}]: gpu ${x} cpu ${want[k][i]}`));
    });
  });
}

test.run();
