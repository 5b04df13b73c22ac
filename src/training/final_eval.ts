// The end-of-run comparison the default run prints: an offline linear probe on frozen features
// of the trained encoder, of the same architecture at random initialisation, and of raw pixels.
import type { Backend } from '../backend/backend.js';
import type { SslMethod } from '../methods/method.js';
import type { ResNet } from '../models/resnet.js';
import { createBackbone } from '../models/presets.js';
import { manualSeed } from '../nn/init.js';
import { tidy } from '../tensor.js';
import { noGrad, tensor } from '../ops/index.js';
import { evalBatch } from '../data/augment.js';
import type { ViewSpec } from '../data/augment_params.js';
import type { ImageSet, TrainingData } from './data.js';
import type { PretrainConfig } from './config.js';
import { linearEval } from './probe.js';

/** Features of every image of a set (eval view, eval-mode BN), on the host. */
async function extract(backbone: ResNet, set: ImageSet, view: ViewSpec, backend: Backend, limit: number): Promise<{ x: Float32Array; y: Int32Array; dim: number }> {
  const n = Math.min(set.count, limit);
  const images = tensor(set.images.subarray(0, n * set.shape[0] * set.shape[1] * set.shape[2]), [n, ...set.shape], { backend, dtype: 'u8' });
  const dim = backbone.featureDim;
  const x = new Float32Array(n * dim);
  const was = backbone.training;
  backbone.eval();
  for (let s = 0; s < n; s += 256) {
    const b = Math.min(256, n - s);
    const f = tidy(() => noGrad(() => backbone.forwardFeatures(evalBatch(images, s, b, view)).pooled));
    x.set(await f.data() as Float32Array, s * dim);
    f.dispose();
  }
  backbone.train(was);
  images.dispose();
  return { x, y: set.labels.slice(0, n), dim };
}

function pixels(set: ImageSet, limit: number): { x: Float32Array; y: Int32Array; dim: number } {
  const n = Math.min(set.count, limit);
  const dim = set.shape[0] * set.shape[1] * set.shape[2];
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n * dim; i++) x[i] = set.images[i] / 255;
  return { x, y: set.labels.slice(0, n), dim };
}

export async function finalLinearEval(method: SslMethod, data: TrainingData, view: ViewSpec, cfg: PretrainConfig, backend: Backend,
  opts: { quiet?: boolean } = {}): Promise<{ trained: number; randomInit: number; rawPixels: number }> {
  const limit = 20000;
  const K = data.classes.length;
  const probe = async (tr: { x: Float32Array; y: Int32Array; dim: number }, te: typeof tr) =>
    (await linearEval(backend, tr, te, tr.dim, K, { epochs: cfg.finalEvalEpochs, seed: cfg.seed })).testAcc;
  const say = (s: string) => { if (!opts.quiet) process.stderr.write(s); };
  say('final linear evaluation (frozen "patch" features, eval-mode BN)…\n');
  const trained = await probe(await extract(method.backbone, data.train, view, backend, limit), await extract(method.backbone, data.test, view, backend, limit));
  manualSeed(cfg.seed);
  const fresh = createBackbone(cfg.arch, { width: cfg.width, smallStem: cfg.smallStem, backend });
  const randomInit = await probe(await extract(fresh, data.train, view, backend, limit), await extract(fresh, data.test, view, backend, limit));
  const rawPixels = await probe(pixels(data.train, limit), pixels(data.test, limit));
  say(`linear probe accuracy: trained ${(100 * trained).toFixed(1)}% | random init ${(100 * randomInit).toFixed(1)}% | raw pixels ${(100 * rawPixels).toFixed(1)}%\n`);
  return { trained, randomInit, rawPixels };
}
