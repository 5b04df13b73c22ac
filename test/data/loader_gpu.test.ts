// GpuLoader + augmentBatch on WebGPU: the resident (and streamed) u8 split indexed by the batch's
// idx on the device gives the same views as the cpu backend. Skips without an adapter (fails
// under CI=true).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { cpu } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/backend.js';
import { GpuLoader } from '../../src/data/loader.js';
import { augmentBatch } from '../../src/data/augment.js';
import { byolViews, evalView, sampleParams } from '../../src/data/augment_params.js';
import { gpuBackendOrSkip } from '../helpers/gpu.js';
import { makeDataset } from './loader_fixtures.js';

const dir = makeDataset({ train: 37, test: 5 }, [10, 10, 3]);

async function views(backend: Backend, residentBytes?: number): Promise<Float32Array[]> {
  const loader = new GpuLoader(dir, 'train', { batchSize: 8, seed: 4, dropLast: false, backend, residentBytes });
  const spec = { ...byolViews(12, 0.2, loader.mean, loader.std)[1], jitterP: 1, grayscaleP: 0.5, solarizeP: 0.5 };
  const out: Float32Array[] = [];
  for (const b of loader.epoch(0)) {
    const prm = sampleParams(loader.augRng, b.idx.shape[0], 10, 10, spec);
    const v = augmentBatch(b.images, b.idx, prm, spec);
    out.push((await v.data()) as Float32Array);
    v.dispose();
  }
  loader.dispose();
  return out;
}

test('loader batches augmented on the GPU match the cpu backend (resident and streamed)', async () => {
  const gpu = await gpuBackendOrSkip('loader_gpu');
  if (!gpu) return;
  const want = await views(cpu());
  for (const residentBytes of [undefined, 17 * 300]) {
    const got = await views(gpu, residentBytes);
    assert.is(got.length, want.length);
    for (let s = 0; s < got.length; s++) {
      for (let k = 0; k < got[s].length; k++) {
        assert.ok(Math.abs(got[s][k] - want[s][k]) <= 1e-4, `step ${s} element ${k}: ${got[s][k]} vs ${want[s][k]}`);
      }
    }
  }
});

test('identity eval view of a GPU batch returns the indexed images', async () => {
  const gpu = await gpuBackendOrSkip('loader_gpu');
  if (!gpu) return;
  const loader = new GpuLoader(dir, 'test', { batchSize: 5, seed: 1, dropLast: false, backend: gpu });
  const spec = evalView(10, [0, 0, 0], [1, 1, 1]);
  for (const b of loader.epoch(0)) {
    const v = (await augmentBatch(b.images, b.idx, sampleParams(loader.augRng, 5, 10, 10, spec), spec).data()) as Float32Array;
    for (let k = 0; k < 5; k++) {
      assert.ok(Math.abs(v[k * 300] * 255 - (b.indices[k] & 255)) < 1e-3, `image ${k} first byte`);
    }
  }
  loader.dispose();
});

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

test.run();
