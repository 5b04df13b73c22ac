// Frozen features of a whole image set, extracted in batches on the backend and gathered on
// the host: the inputs of every offline evaluation (linear probes, robustness, similarity).
import type { Backend } from '../backend/backend.js';
import type { ResNet, Features } from '../models/resnet.js';
import type { Module } from '../nn/module.js';
import { Tensor, tidy } from '../tensor.js';
import { mean, noGrad, tensor } from '../ops/index.js';
import { evalBatch } from '../data/augment.js';
import type { ViewSpec } from '../data/augment_params.js';
import type { ImageSet } from '../training/data.js';
import type { FeatureSet } from './linear_probe.js';
import { traceModule } from '../models/trace.js';

/**
 * Which representation: `pooled` (the mean of the local map: the RF-ResNets' "patch" feature),
 * `global` (after the residual MLP when there is one, else pooled), `layer3` (the mean of the
 * third stage's map: Table 10's layer-wise probe).
 */
export type FeatureKind = 'pooled' | 'global' | 'layer3';
export const FEATURE_KINDS: readonly FeatureKind[] = ['pooled', 'global', 'layer3'];

export interface ExtractOptions {
  kinds: readonly FeatureKind[];
  /** Use the first `limit` images of the set (default all). */
  limit?: number;
  batch?: number;
  /** Local positions to drop before pooling in batch k (internal masking), or none. */
  drop?: (k: number, positions: number) => ArrayLike<number> | undefined;
}

/** The `kind` representation of a forward's features, [B, C]. */
export function pickFeature(f: Features, kind: FeatureKind): Tensor {
  switch (kind) {
    case 'pooled': return f.pooled;
    case 'global': return f.global;
    case 'layer3': return mean(f.layer3, [1, 2]);
  }
}

/** Upload a set's first n images as a u8 NHWC tensor. */
export function uploadImages(set: ImageSet, n: number, backend: Backend): Tensor {
  return tensor(set.images.subarray(0, n * set.shape[0] * set.shape[1] * set.shape[2]), [n, ...set.shape], { backend, dtype: 'u8' });
}

/** Run `fn` with the module in eval mode (batch norm on running statistics), its mode restored after. */
export async function inEvalMode<T>(m: Module, fn: () => Promise<T>): Promise<T> {
  const was = m.training;
  m.eval();
  try { return await fn(); } finally { m.train(was); }
}

/** Features of a set's images (the eval view, eval-mode batch norm), on the host. */
export async function extractFeatures(backbone: ResNet, set: ImageSet, view: ViewSpec, backend: Backend,
  opts: ExtractOptions): Promise<Record<FeatureKind, FeatureSet>> {
  const n = Math.min(set.count, opts.limit ?? set.count);
  const B = opts.batch ?? 256;
  const images = uploadImages(set, n, backend);
  const y = set.labels.slice(0, n);
  const out = {} as Record<FeatureKind, FeatureSet>;
  await inEvalMode(backbone, async () => {
    for (let s = 0, k = 0; s < n; s += B, k++) {
      const b = Math.min(B, n - s);
      const fs = tidy(() => noGrad(() => {
        const x = evalBatch(images, s, b, view);
        const f = backbone.forwardFeatures(x, { drop: opts.drop?.(k, localPositions(backbone, x)) });
        return opts.kinds.map((kind) => pickFeature(f, kind));
      }));
      for (let i = 0; i < fs.length; i++) {
        const kind = opts.kinds[i];
        const dim = fs[i].shape[1];
        out[kind] ??= { x: new Float32Array(n * dim), y, dim };
        out[kind].x.set(await fs[i].data() as Float32Array, s * dim);
        fs[i].dispose();
      }
    }
  }).finally(() => images.dispose());
  return out;
}

/** Local positions of the backbone's map at this batch's image size (by a shape trace, cached). */
function localPositions(backbone: ResNet, x: Tensor): number {
  const key = `${x.shape[1]}x${x.shape[2]}`;
  let p = positionsCache.get(backbone)?.get(key);
  if (p === undefined) {
    const shape = traceModule(backbone, [1, x.shape[1], x.shape[2], 3]).tracer.at('localMap').shape;
    p = shape[1] * shape[2];
    if (!positionsCache.has(backbone)) positionsCache.set(backbone, new Map());
    positionsCache.get(backbone)!.set(key, p);
  }
  return p;
}
const positionsCache = new WeakMap<ResNet, Map<string, number>>();

/** Raw pixels in [0, 1] as features (the baseline probe). */
export function pixelFeatures(set: ImageSet, limit = set.count): FeatureSet {
  const n = Math.min(set.count, limit);
  const dim = set.shape[0] * set.shape[1] * set.shape[2];
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n * dim; i++) x[i] = set.images[i] / 255;
  return { x, y: set.labels.slice(0, n), dim };
}
