// Online linear probes: trained on detached features during pretraining (their own optimiser,
// no weight decay). The offline probe on frozen features is eval/linear_probe.ts.
import type { Tensor } from '../tensor.js';
import type { Backend } from '../backend/backend.js';
import { BatchNorm1d, Linear, Sequential } from '../nn/layers.js';
import { Rng } from '../runtime/rng.js';
import { add, crossEntropy, detach, gather, greater, max, noGrad, reshape, rsubScalar, sum, tensor } from '../ops/index.js';
import { Optimizer } from './optim.js';

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

