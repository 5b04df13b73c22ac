// Adversarial robustness (SPEC §7, the paper's Table 4): L∞ projected gradient descent on the
// linear-probed model, with the gradient of the probe's cross-entropy taken w.r.t. the input
// pixels through the whole backbone (eval-mode batch norm). Pixels are attacked in [0, 1]
// before normalisation, after the eval view's resize/crop, as Foolbox's LinfPGD (which the
// paper used) attacks a model whose first layer normalises. Every update stays on the device.
import type { Backend } from '../backend/backend.js';
import type { ResNet } from '../models/resnet.js';
import { Tensor, tidy } from '../tensor.js';
import { add, crossEntropy, div, grad, greater, maximum, mul, mulScalar, neg, noGrad, rand, sub, tensor, addScalar } from '../ops/index.js';
import { evalBatch } from '../data/augment.js';
import type { ViewSpec } from '../data/augment_params.js';
import { expand3, type ImageSet } from '../training/data.js';
import { Rng } from '../runtime/rng.js';
import { correctCount } from '../training/probe.js';
import { releaseGraph } from '../autograd/tape.js';
import { freezeParameters } from './input_grad.js';
import type { LinearProbe } from './linear_probe.js';
import { inEvalMode, pickFeature, uploadImages, type FeatureKind } from './features.js';

export interface PgdAttack {
  /** L∞ radius in [0, 1] pixel units. */
  eps: number;
  /** Step size γ (absolute). */
  step: number;
  iterations: number;
}

/** The eight attacks of the paper's Table 4: ε with γ = ε/40 for 1 step, then 5 steps, then γ = ε/10. */
export const PAPER_ATTACKS: readonly PgdAttack[] = [
  ...[0.003, 0.01, 0.03, 0.1].map((eps) => ({ eps, step: eps / 40, iterations: 1 })),
  ...[0.003, 0.01].map((eps) => ({ eps, step: eps / 40, iterations: 5 })),
  ...[0.003, 0.01].map((eps) => ({ eps, step: eps / 10, iterations: 1 })),
];

export interface PgdOptions {
  limit?: number;
  batch?: number;
  seed?: number;
  /** Start from a uniform point of the ε-ball (Foolbox's default for LinfPGD); else from the image. */
  randomStart?: boolean;
  /** Called after each batch with the images attacked so far. */
  onBatch?: (done: number, total: number) => void;
}

export interface PgdResult extends PgdAttack { accuracy: number; images: number }

const min = (a: Tensor, b: Tensor) => neg(maximum(neg(a), neg(b)));
/** sign(g) ∈ {−1, 0, 1}. */
const sign = (g: Tensor) => { const z = mulScalar(g, 0); return sub(greater(g, z), greater(z, g)); };

/**
 * One batch's adversarial pixels: from `clean` (or a uniform point of its ε-ball), `iterations`
 * steps of γ·sign(∇ cross-entropy), each projected onto the ε-ball and [0, 1]. `scores` maps
 * pixels to logits and lists in `graph` any outputs it computed besides them.
 */
export function pgdBatch(scores: (pixels: Tensor, graph: Tensor[]) => Tensor, clean: Tensor, labels: Tensor, attack: PgdAttack, rng: Rng, randomStart: boolean): Tensor {
  const { eps, step, iterations } = attack;
  const { backend } = clean;
  const lo = tidy(() => noGrad(() => maximum(addScalar(clean, -eps), mulScalar(clean, 0))));
  const hi = tidy(() => noGrad(() => min(addScalar(clean, eps), addScalar(mulScalar(clean, 0), 1))));
  const project = (p: Tensor) => min(maximum(p, lo), hi);
  let x = tidy(() => noGrad(() => project(randomStart ? add(clean, rand(clean.shape, rng, { backend, lo: -eps, hi: eps, dtype: clean.dtype })) : clean.alias())));
  for (let it = 0; it < iterations; it++) {
    const leaf = x;
    leaf.requiresGrad = true;
    const graph: Tensor[] = [];
    const next = tidy(() => {
      const [g] = grad(crossEntropy(scores(leaf, graph), labels), [leaf]);
      return noGrad(() => project(add(leaf, mulScalar(sign(g!), step))));
    });
    releaseGraph(graph); // what the loss did not reach (e.g. the MLP when probing the patch features)
    leaf.dispose();
    x = next;
  }
  lo.dispose(); hi.dispose();
  return x;
}

/**
 * Accuracy of `probe` on `kind` features under each attack, over the first `limit` images of
 * `set`. The probe and the backbone are not changed.
 */
export async function pgdAccuracy(backbone: ResNet, probe: LinearProbe, kind: FeatureKind, set: ImageSet, view: ViewSpec, backend: Backend,
  attacks: readonly PgdAttack[], opts: PgdOptions = {}): Promise<PgdResult[]> {
  for (const a of attacks) {
    if (!(a.eps >= 0 && a.step >= 0 && Number.isInteger(a.iterations) && a.iterations >= 0)) {
      throw new RangeError(`PGD: an attack needs eps ≥ 0, step ≥ 0 and a whole number of iterations ≥ 0, got ${JSON.stringify(a)}`);
    }
  }
  const n = Math.min(set.count, opts.limit ?? set.count);
  const B = opts.batch ?? 64;
  const rng = new Rng(opts.seed ?? 0);
  const images = uploadImages(set, n, backend);
  const mean3 = tensor(expand3(view.mean), [3], { backend });
  const std3 = tensor(expand3(view.std), [3], { backend });
  const correct = attacks.map(() => 0);
  const scoresOf = (pixels: Tensor, graph: Tensor[] = []) => {
    const f = backbone.forwardFeatures(div(sub(pixels, mean3), std3));
    graph.push(f.layer3, f.localMap, f.pooled, f.global);
    return probe.logits(pickFeature(f, kind));
  };
  const thaw = freezeParameters(backbone);
  await inEvalMode(backbone, async () => {
    for (let s = 0; s < n; s += B) {
      const b = Math.min(B, n - s);
      const labels = tensor(set.labels.subarray(s, s + b), [b], { backend, dtype: 'i32' });
      // The eval view's pixels in [0, 1] (its normalisation undone).
      const clean = tidy(() => noGrad(() => add(mul(evalBatch(images, s, b, view), std3), mean3)));
      for (let a = 0; a < attacks.length; a++) {
        const x = pgdBatch(scoresOf, clean, labels, attacks[a], rng, opts.randomStart !== false);
        const c = tidy(() => noGrad(() => correctCount(scoresOf(x), labels)));
        correct[a] += await c.item();
        c.dispose(); x.dispose();
      }
      clean.dispose();
      labels.dispose();
      opts.onBatch?.(s + b, n);
    }
  }).finally(() => {
    thaw();
    for (const t of [images, mean3, std3]) t.dispose();
  });
  return attacks.map((a, i) => ({ ...a, accuracy: correct[i] / n, images: n }));
}
