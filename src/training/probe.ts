// Linear probes. The online probe trains on detached features during pretraining (its own
// optimiser, no weight decay); the offline probe trains on frozen features after pretraining.
import { Tensor, tidy } from '../tensor.js';
import type { Backend } from '../backend/backend.js';
import { BatchNorm1d, Linear, Sequential } from '../nn/layers.js';
import { Rng } from '../runtime/rng.js';
import { add, backward, crossEntropy, detach, gather, greater, max, noGrad, reshape, rsubScalar, sum, tensor } from '../ops/index.js';
import { Optimizer } from './optim.js';
import { warmupCosine } from './schedule.js';

/**
 * Number of rows whose argmax is the label, as a scalar tensor (read back only at logging
 * time). correct ⇔ the true class's logit ≥ the row max (ties count as correct).
 */
export function correctCount(logits: Tensor, labels: Tensor): Tensor {
  return noGrad(() => {
    const [N, K] = logits.shape;
    const rowMax = max(logits, 1);
    const rowStart = tensor(Int32Array.from({ length: N }, (_, i) => i * K), [N], { dtype: 'i32', backend: logits.backend });
    const picked = gather(reshape(logits, [N * K]), 0, add(rowStart, labels));
    return rsubScalar(sum(greater(rowMax, picked)), N);
  });
}

export interface ProbeSpec { name: string; dim: number }

/**
 * Online probes on detached features: each is a BatchNorm1d without affine parameters (MAE's
 * linear-probe recipe: standardised features, so one learning rate suits any feature scale)
 * then a Linear layer, trained with SGD + momentum at their own learning rate, no weight
 * decay. (A LARS probe, as in solo-learn, moves by at most lr·η of its weights per step: fine
 * over 100k steps, frozen over the few hundred of a software-sized run. Plain SGD on raw
 * features diverged on the GPU when the feature scale grew.)
 */
export class OnlineProbes {
  readonly heads: Map<string, Sequential>;
  readonly optimizer: Optimizer;
  constructor(backend: Backend, specs: ProbeSpec[], numClasses: number, rng: Rng) {
    this.heads = new Map(specs.map((s) => [s.name,
      new Sequential(new BatchNorm1d(s.dim, { backend, affine: false }), new Linear(s.dim, numClasses, { backend, rng }))]));
    const named = [...this.heads].flatMap(([n, h]) => [...h.namedParameters(n)]);
    this.optimizer = new Optimizer(backend, named, { kind: 'sgd', weightDecay: 0, momentum: 0.9 });
  }

  /** Training mode (batch statistics) or evaluation mode (running statistics) for every probe. */
  train(on = true): void { for (const h of this.heads.values()) h.train(on); }

  /** Probe losses and correct counts on detached features. */
  forward(features: Record<string, Tensor>, labels: Tensor): { loss: Tensor; parts: Record<string, Tensor> } {
    let loss: Tensor | null = null;
    const parts: Record<string, Tensor> = {};
    for (const [name, head] of this.heads) {
      const logits = head.forward(detach(features[name]));
      const l = crossEntropy(logits, labels);
      parts[`${name}ProbeLoss`] = l;
      parts[`${name}ProbeCorrect`] = correctCount(logits, labels);
      loss = loss ? add(loss, l) : l;
    }
    return { loss: loss!, parts };
  }
}


export interface LinearEvalResult { trainAcc: number; testAcc: number }

/**
 * Offline linear evaluation on fixed features: a Linear layer trained with SGD + momentum and
 * a cosine schedule on standardised features, full-batch minibatches of 256.
 */
export async function linearEval(backend: Backend, train: { x: Float32Array; y: Int32Array }, test: { x: Float32Array; y: Int32Array },
  dim: number, numClasses: number, opts: { epochs: number; lr?: number; seed?: number; batch?: number }): Promise<LinearEvalResult> {
  const nTr = train.y.length;
  // Standardise with training statistics (a probe on raw pixels would otherwise need its own lr).
  const mu = new Float64Array(dim), sd = new Float64Array(dim);
  for (let i = 0; i < nTr; i++) for (let d = 0; d < dim; d++) mu[d] += train.x[i * dim + d];
  for (let d = 0; d < dim; d++) mu[d] /= nTr;
  for (let i = 0; i < nTr; i++) for (let d = 0; d < dim; d++) sd[d] += (train.x[i * dim + d] - mu[d]) ** 2;
  for (let d = 0; d < dim; d++) sd[d] = Math.sqrt(sd[d] / nTr) + 1e-6;
  const norm = (x: Float32Array) => { const o = new Float32Array(x.length); for (let i = 0; i < x.length; i++) { const d = i % dim; o[i] = (x[i] - mu[d]) / sd[d]; } return o; };
  const xtr = norm(train.x), xte = norm(test.x);
  const rng = new Rng(opts.seed ?? 0);
  const head = new Linear(dim, numClasses, { backend, rng });
  const opt = new Optimizer(backend, [...head.namedParameters()], { kind: 'sgd', weightDecay: 5e-4, momentum: 0.9, adapt: (_n, t) => t.rank > 1 });
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
        const loss = crossEntropy(head.forward(tensor(xb, [ids.length, dim], { backend })), tensor(yb, [ids.length], { backend, dtype: 'i32' }));
        backward(loss);
      });
      opt.step(warmupCosine(k++, total, opts.lr ?? 0.1, 0));
    }
  }
  const acc = async (x: Float32Array, y: Int32Array) => {
    let correct = 0;
    for (let s = 0; s < y.length; s += 1024) {
      const n = Math.min(1024, y.length - s);
      const c = tidy(() => correctCount(noGrad(() => head.forward(tensor(x.subarray(s * dim, (s + n) * dim), [n, dim], { backend }))),
        tensor(y.subarray(s, s + n), [n], { backend, dtype: 'i32' })));
      correct += await c.item();
      c.dispose();
    }
    return correct / y.length;
  };
  return { trainAcc: await acc(xtr, train.y), testAcc: await acc(xte, test.y) };
}
