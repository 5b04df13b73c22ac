// The end-of-run comparison the default run prints: an offline linear probe on frozen features
// of the trained encoder, of the same architecture at random initialisation, and of raw pixels.
import type { Backend } from '../backend/backend.js';
import type { SslMethod } from '../methods/method.js';
import { createBackbone } from '../models/presets.js';
import { manualSeed } from '../nn/init.js';
import type { ViewSpec } from '../data/augment_params.js';
import type { TrainingData } from './data.js';
import type { PretrainConfig } from './config.js';
import { linearEval, type FeatureSet } from '../eval/linear_probe.js';
import { extractFeatures, pixelFeatures } from '../eval/features.js';

export async function finalLinearEval(method: SslMethod, data: TrainingData, view: ViewSpec, cfg: PretrainConfig, backend: Backend,
  opts: { quiet?: boolean } = {}): Promise<{ trained: number; randomInit: number; rawPixels: number }> {
  const limit = 20000;
  const K = data.classes.length;
  const probe = async (tr: FeatureSet, te: FeatureSet) => (await linearEval(backend, tr, te, K, { epochs: cfg.finalEvalEpochs, seed: cfg.seed })).testAcc;
  const patch = async (bb: typeof method.backbone, set: TrainingData['train']) => (await extractFeatures(bb, set, view, backend, { kinds: ['pooled'], limit })).pooled;
  const say = (s: string) => { if (!opts.quiet) process.stderr.write(s); };
  say('final linear evaluation (frozen "patch" features, eval-mode BN)…\n');
  const trained = await probe(await patch(method.backbone, data.train), await patch(method.backbone, data.test));
  manualSeed(cfg.seed);
  const fresh = createBackbone(cfg.arch, { width: cfg.width, smallStem: cfg.smallStem, backend });
  const randomInit = await probe(await patch(fresh, data.train), await patch(fresh, data.test));
  const rawPixels = await probe(pixelFeatures(data.train, limit), pixelFeatures(data.test, limit));
  say(`linear probe accuracy: trained ${(100 * trained).toFixed(1)}% | random init ${(100 * randomInit).toFixed(1)}% | raw pixels ${(100 * rawPixels).toFixed(1)}%\n`);
  return { trained, randomInit, rawPixels };
}
