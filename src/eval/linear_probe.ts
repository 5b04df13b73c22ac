// Offline linear probes on frozen features: standardise with the training split's statistics,
// train one Linear layer with SGD + momentum and a cosine schedule, then score any feature set
// (clean, corrupted, masked) or, for adversarial attacks, differentiate through the probe.
import { Tensor, tidy } from '../tensor.js';
import type { Backend } from '../backend/backend.js';
import { Linear } from '../nn/layers.js';
import { Rng } from '../runtime/rng.js';
import { ShapeError } from '../runtime/errors.js';
import { backward, crossEntropy, div, noGrad, sub, tensor } from '../ops/index.js';
import { Optimizer } from '../training/optim.js';
import { warmupCosine } from '../training/schedule.js';
import { correctCount } from '../training/probe.js';

/** Features of a set of images on the host: x is count×dim, y the labels. */
export interface FeatureSet { x: Float32Array; y: Int32Array; dim: number }

export interface ProbeOptions { epochs: number; lr?: number; seed?: number; batch?: number }

export class LinearProbe {
  private constructor(private readonly backend: Backend, readonly dim: number, readonly numClasses: number,
    /** Training-split statistics (a probe on raw pixels would otherwise need its own lr). */
    readonly mean: Float64Array, readonly std: Float64Array, readonly head: Linear) {}

  /** Train a probe on `train` (full passes of minibatches, shuffled by `seed`). */
  static train(backend: Backend, train: FeatureSet, numClasses: number, opts: ProbeOptions): LinearProbe {
    const { dim } = train;
    const nTr = train.y.length;
    if (train.x.length !== nTr * dim) throw new ShapeError(`LinearProbe.train: ${train.x.length} feature values for ${nTr} labels × ${dim} dims`);
    const mu = new Float64Array(dim), sd = new Float64Array(dim);
    for (let i = 0; i < nTr; i++) for (let d = 0; d < dim; d++) mu[d] += train.x[i * dim + d];
    for (let d = 0; d < dim; d++) mu[d] /= nTr;
    for (let i = 0; i < nTr; i++) for (let d = 0; d < dim; d++) sd[d] += (train.x[i * dim + d] - mu[d]) ** 2;
    for (let d = 0; d < dim; d++) sd[d] = Math.sqrt(sd[d] / nTr) + 1e-6;
    const rng = new Rng(opts.seed ?? 0);
    const probe = new LinearProbe(backend, dim, numClasses, mu, sd, new Linear(dim, numClasses, { backend, rng }));
    const xtr = probe.standardize(train.x);
    const opt = new Optimizer(backend, [...probe.head.namedParameters()], { kind: 'sgd', weightDecay: 5e-4, momentum: 0.9, adapt: (_n, t) => t.rank > 1 });
    const B = opts.batch ?? 256;
    const steps = Math.ceil(nTr / B);
    const total = steps * opts.epochs;
    const order = Array.from({ length: nTr }, (_, i) => i);
    let k = 0;
    for (let e = 0; e < opts.epochs; e++) {
      rng.shuffle(order);
      for (let s = 0; s < steps; s++) {
        const ids = order.slice(s * B, Math.min(nTr, (s + 1) * B));
        if (ids.length < 2) continue;
        const xb = new Float32Array(ids.length * dim), yb = new Int32Array(ids.length);
        ids.forEach((id, j) => { xb.set(xtr.subarray(id * dim, (id + 1) * dim), j * dim); yb[j] = train.y[id]; });
        tidy(() => {
          const loss = crossEntropy(probe.head.forward(tensor(xb, [ids.length, dim], { backend })), tensor(yb, [ids.length], { backend, dtype: 'i32' }));
          backward(loss);
        });
        opt.step(warmupCosine(k++, total, opts.lr ?? 0.1, 0));
      }
    }
    return probe;
  }

  /** (x − mean) / std per feature, on the host. */
  standardize(x: Float32Array): Float32Array {
    const { dim, mean, std } = this;
    const o = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) { const d = i % dim; o[i] = (x[i] - mean[d]) / std[d]; }
    return o;
  }

  /** Fraction of `set` classified correctly. */
  async accuracy(set: FeatureSet): Promise<number> {
    if (set.dim !== this.dim) throw new ShapeError(`LinearProbe.accuracy: features of ${set.dim} dims, the probe takes ${this.dim}`);
    return this.accuracyStandardized(this.standardize(set.x), set.y);
  }

  private async accuracyStandardized(x: Float32Array, y: Int32Array): Promise<number> {
    const { backend, dim } = this;
    let correct = 0;
    for (let s = 0; s < y.length; s += 1024) {
      const n = Math.min(1024, y.length - s);
      const c = tidy(() => correctCount(noGrad(() => this.head.forward(tensor(x.subarray(s * dim, (s + n) * dim), [n, dim], { backend }))),
        tensor(y.subarray(s, s + n), [n], { backend, dtype: 'i32' })));
      correct += await c.item();
      c.dispose();
    }
    return correct / y.length;
  }

  /** Class scores of raw (unstandardised) features [B, dim], differentiable w.r.t. them. */
  logits(features: Tensor): Tensor {
    if (features.rank !== 2 || features.shape[1] !== this.dim) throw new ShapeError(`LinearProbe.logits: expected [B, ${this.dim}], got [${features.shape}]`);
    const { backend } = this;
    const dtype = features.dtype;
    return tidy(() => this.head.forward(div(sub(features, tensor(this.mean, [this.dim], { backend, dtype })), tensor(this.std, [this.dim], { backend, dtype }))));
  }

  /** Accuracy on the training split's own features and on a test split (the offline evaluation). */
  async trainTestAccuracy(train: FeatureSet, test: FeatureSet): Promise<{ trainAcc: number; testAcc: number }> {
    return { trainAcc: await this.accuracy(train), testAcc: await this.accuracy(test) };
  }
}

export interface LinearEvalResult { trainAcc: number; testAcc: number }

/** Train a probe on `train` and report its accuracy on both splits. */
export async function linearEval(backend: Backend, train: FeatureSet, test: FeatureSet, numClasses: number, opts: ProbeOptions): Promise<LinearEvalResult> {
  const probe = LinearProbe.train(backend, train, numClasses, opts);
  return probe.trainTestAccuracy(train, test);
}
