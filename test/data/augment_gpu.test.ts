// WebGPU augmentation kernels vs the CPU reference (src/data/augment_cpu.ts) on the same random
// parameter rows: every stage (RRC bilinear/bicubic up- and downsampling, flip, jitter in random
// orders, grayscale, blur, solarize, normalise, centre crop), RGB and 1-channel sources.
// Skips without an adapter (fails under CI=true, test/helpers/gpu.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/backend.js';
import { tensor } from '../../src/ops/creation.js';
import { Rng } from '../../src/runtime/rng.js';
import { augmentBatch } from '../../src/data/augment.js';
import { byolViews, evalView, sampleParams, P, PARAM_STRIDE, type ViewSpec } from '../../src/data/augment_params.js';
import { gpuBackendOrSkip } from '../helpers/gpu.js';
import { testImages } from './augment_fixtures.js';

const MEAN = [0.49, 0.48, 0.45], STD = [0.25, 0.24, 0.26];
const TOL = 1e-4;

/** Max |gpu − cpu| of one view configuration; also returns the CPU output. */
async function compare(gpu: Backend, src: { h: number; w: number; c: number; n: number }, spec: ViewSpec, B: number,
  seed: number, params?: Float32Array): Promise<{ err: number; where: string; cpuOut: Float32Array }> {
  const imgs = testImages(src.n, src.h, src.w, src.c, seed);
  const rng = new Rng(seed + 1);
  const idx = Int32Array.from({ length: B }, () => rng.int(src.n));
  const prm = params ?? sampleParams(rng, B, src.h, src.w, spec);
  const shape = [src.n, src.h, src.w, src.c];
  const run = async (be: Backend) => {
    const t = tensor(imgs, shape, { backend: be, dtype: 'u8' });
    const i = tensor(idx, [B], { backend: be, dtype: 'i32' });
    const out = augmentBatch(t, i, prm, spec);
    const data = (await out.data()) as Float32Array;
    t.dispose(); i.dispose(); out.dispose();
    return data;
  };
  const [g, c] = [await run(gpu), await run(cpu())];
  assert.is(g.length, c.length);
  let err = 0, where = '';
  for (let k = 0; k < g.length; k++) {
    const d = Math.abs(g[k] - c[k]);
    if (!(d <= err)) {
      err = Number.isNaN(d) ? Infinity : d;
      const S = spec.size, b = Math.floor(k / (S * S * 3));
      where = `image ${b} pixel ${Math.floor(k / 3) % (S * S)} ch ${k % 3}: gpu ${g[k]} cpu ${c[k]} ` +
        `row [${Array.from(prm.subarray(b * PARAM_STRIDE, (b + 1) * PARAM_STRIDE)).map((v) => +v.toFixed(4))}]`;
    }
  }
  return { err, where, cpuOut: c };
}

function expectClose(what: string, r: { err: number; where: string }): void {
  if (process.env.AUG_VERBOSE) console.log(what, r.err.toExponential(2));
  assert.ok(r.err <= TOL, `${what}: max abs error ${r.err.toExponential(2)} > ${TOL} at ${r.where}`);
}

/** Every colour op on (jitter and grayscale often, solarize half the time). */
function colourHeavy(spec: ViewSpec): ViewSpec {
  return { ...spec, jitterP: 1, grayscaleP: 0.3, solarizeP: 0.5, flipP: 0.5 };
}

test('bicubic RRC + jitter in random orders + grayscale + solarize, 32 px RGB', async () => {
  const gpu = await gpuBackendOrSkip('augment_gpu');
  if (!gpu) return;
  const spec = colourHeavy(byolViews(32, 0.08, MEAN, STD)[1]);
  expectClose('bicubic 32', await compare(gpu, { n: 6, h: 32, w: 32, c: 3 }, spec, 16, 11));
});

test('bilinear RRC, 1-channel source expanded to RGB', async () => {
  const gpu = await gpuBackendOrSkip('augment_gpu');
  if (!gpu) return;
  const spec: ViewSpec = { ...colourHeavy(byolViews(24, 0.2, [0.5], [0.3])[0]), interpolation: 'bilinear' };
  expectClose('bilinear gray source', await compare(gpu, { n: 4, h: 28, w: 28, c: 1 }, spec, 8, 12));
});

test('downsampling (antialiased window) bicubic and bilinear, non-square source', async () => {
  const gpu = await gpuBackendOrSkip('augment_gpu');
  if (!gpu) return;
  for (const interpolation of ['bicubic', 'bilinear'] as const) {
    const spec: ViewSpec = { ...colourHeavy(byolViews(12, 0.5, MEAN, STD)[0]), interpolation };
    expectClose(`down ${interpolation}`, await compare(gpu, { n: 3, h: 36, w: 44, c: 3 }, spec, 8, 13));
  }
});

test('Gaussian blur passes (some images blurred, some not) with solarize after blur', async () => {
  const gpu = await gpuBackendOrSkip('augment_gpu');
  if (!gpu) return;
  const spec: ViewSpec = { ...colourHeavy(byolViews(80, 0.2, MEAN, STD)[1]), blurP: 0.6 };
  const r = await compare(gpu, { n: 3, h: 40, w: 40, c: 3 }, spec, 5, 14);
  expectClose('blur', r);
});

test('blur with extreme σ on a sharp image', async () => {
  const gpu = await gpuBackendOrSkip('augment_gpu');
  if (!gpu) return;
  const spec: ViewSpec = { ...byolViews(72, 0.2, MEAN, STD)[0], jitterP: 0, grayscaleP: 0 };
  const rng = new Rng(3);
  const prm = sampleParams(rng, 2, 40, 40, spec);
  prm[P.sigma] = 0.1; prm[PARAM_STRIDE + P.sigma] = 2.0;
  expectClose('blur σ extremes', await compare(gpu, { n: 2, h: 40, w: 40, c: 3 }, spec, 2, 15, prm));
});

test('centre-crop evaluation view (fractional box clipped to the image)', async () => {
  const gpu = await gpuBackendOrSkip('augment_gpu');
  if (!gpu) return;
  const spec: ViewSpec = { ...evalView(24, MEAN, STD), centerCrop: 0.875 };
  expectClose('eval centre crop', await compare(gpu, { n: 3, h: 30, w: 41, c: 3 }, spec, 3, 16));
});

test('a whole identity eval view reproduces the normalised source', async () => {
  const gpu = await gpuBackendOrSkip('augment_gpu');
  if (!gpu) return;
  const spec = evalView(16, MEAN, STD);
  const r = await compare(gpu, { n: 2, h: 16, w: 16, c: 3 }, spec, 2, 17);
  expectClose('identity eval', r);
  const imgs = testImages(2, 16, 16, 3, 17);
  const rng = new Rng(18);
  const idx = [rng.int(2), rng.int(2)];
  for (let b = 0; b < 2; b++) for (let k = 0; k < 16 * 16 * 3; k++) {
    const want = (imgs[idx[b] * 768 + k] / 255 - MEAN[k % 3]) / STD[k % 3];
    assert.ok(Math.abs(r.cpuOut[b * 768 + k] - want) < 1e-5, `identity at ${b}/${k}`);
  }
});

test.run();
