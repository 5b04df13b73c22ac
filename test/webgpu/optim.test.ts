// Flat-buffer training updates on WebGPU vs the CPU: EMA and SGD / LARS / AdamW steps over
// segments with gaps between them (64-element alignment), adapted and non-adapted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend, OptimizerHyper, OptimizerKind, Raw } from '../../src/backend/backend.js';
import { cpu } from '../../src/backend/registry.js';
import { gpuBackendOrSkip, gpuHandle, randomTensor, toRaw } from '../helpers/gpu.js';
import { overrideSoftwareDevice } from '../../src/backend/webgpu/ops/gemm.js';

const SUITE = 'webgpu optim';
const N = 6000;
// Segments (offset, size, adapt) with gaps; the last is large enough for the GPU's LARS norms to
// split it in 32 parts of uneven use, the small ones leave most of their parts empty.
const SEGMENTS = Int32Array.from([0, 70, 1, 128, 5, 0, 192, 150, 1, 384, 1, 1, 448, 5491, 1]);

async function run(be: Backend, kind: OptimizerKind, steps: number): Promise<Float32Array[]> {
  const [w, g, m, v] = [1, 2, 3, 4].map((s) => toRaw(be, randomTensor([N], s, s > 2 ? { lo: 0, hi: 0.1 } : {})));
  const seg: Raw = toRaw(be, { data: SEGMENTS, shape: [SEGMENTS.length / 3, 3], dtype: 'i32' });
  const h: OptimizerHyper = { lr: 0.1, weightDecay: 1e-2, momentum: 0.9, eta: 0.02, clipLr: true, eps: 1e-8, beta1: 0.9, beta2: 0.99, step: 1 };
  for (let s = 1; s <= steps; s++) be.optimizerStep(kind, w, g, m, kind === 'adamw' ? v : null, seg, { ...h, step: s });
  be.emaUpdate(v, w, 0.99);
  return Promise.all([w, m, v].map(async (r) => (await be.download(r)) as Float32Array));
}

for (const routing of ['default', 'gpu'] as const) test(`optimizer steps and EMA match the CPU (${routing} routing)`, async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  const rt = (await gpuHandle())!.runtime;
  if (routing === 'gpu') overrideSoftwareDevice(rt, false); // LARS norms in 32 parts per segment
  try { for (const kind of ['sgd', 'lars', 'adamw'] as OptimizerKind[]) {
    const [got, want] = [await run(gpu, kind, 3), await run(cpu(), kind, 3)];
    for (const [k, name] of ['param', 'state1', 'ema'].entries()) {
      got[k].forEach((x, i) => assert.ok(Math.abs(x - want[k][i]) <= 1e-6 + 1e-5 * Math.abs(want[k][i]),
        `${kind} ${name}[${i}]: gpu ${x} cpu ${want[k][i]}`));
    }
  } } finally {
    if (routing === 'gpu') overrideSoftwareDevice(rt, null);
  }
});

test.run();
