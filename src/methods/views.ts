// Running several augmented views through a network. By default the views are stacked along
// the batch axis and run once, with every training-mode batch norm keeping each view's
// statistics apart (nn/batch_groups.ts): the same values and gradients as one run per view,
// with half the dispatches for two views and GEMMs twice as tall. Views of different sizes, or
// batching switched off (tests compare both ways), run one call per view.
import type { Tensor } from '../tensor.js';
import type { Features } from '../models/resnet.js';
import type { ProbeFeatures } from './method.js';
import { concat, noGrad, slice } from '../ops/index.js';
import { withBatchGroups } from '../nn/batch_groups.js';

let batching = true;

/** Switch view batching on or off (returns the previous setting). */
export function setViewBatching(on: boolean): boolean {
  const prev = batching;
  batching = on;
  return prev;
}

/** The result of a network call over views, from which each view's rows can be taken. */
export class ViewRun<T> {
  private constructor(private readonly batched: T | null, private readonly perView: T[] | null, readonly views: number) {}

  /** fn over the views: once over the stacked batch, or once per view. */
  static run<T>(views: Tensor[], fn: (x: Tensor) => T): ViewRun<T> {
    const V = views.length;
    const same = views.every((v) => v.shape.length === views[0].shape.length && v.shape.every((d, i) => d === views[0].shape[i]));
    if (batching && V > 1 && same) {
      const x = concat(views, 0);
      return new ViewRun(withBatchGroups(V, () => fn(x)), null, V);
    }
    return new ViewRun(null, views.map((v) => fn(v)), V);
  }

  /** A further network call on this result, batched the same way (e.g. local heads on the maps). */
  then<U>(fn: (r: T) => U): ViewRun<U> {
    if (this.batched !== null) { const b = this.batched; return new ViewRun(withBatchGroups(this.views, () => fn(b)), null, this.views); }
    return new ViewRun(null, this.perView!.map((r) => fn(r)), this.views);
  }

  /** View v's rows of the tensor `pick` selects (a copy when batched). */
  part(pick: (r: T) => Tensor, v: number): Tensor {
    if (this.batched === null) return pick(this.perView![v]);
    const t = pick(this.batched);
    const rows = t.shape[0] / this.views;
    return slice(t, t.shape.map((_, i) => (i === 0 ? v * rows : 0)), t.shape.map((d, i) => (i === 0 ? rows : d)));
  }

  /** Something about the result's structure (the same for every view), e.g. whether a field is null. */
  representative<U>(fn: (r: T) => U): U { return fn(this.batched ?? this.perView![0]); }

  /** Every view's rows of the tensor `pick` selects, in view order along the first axis (views of one size). */
  whole(pick: (r: T) => Tensor): Tensor {
    return this.batched !== null ? pick(this.batched) : concat(this.perView!.map(pick), 0);
  }
}

/** The first view's probe features from an online run whose result carries the backbone's (`f`). */
export function firstViewFeatures(run: ViewRun<{ f: Features }>): ProbeFeatures {
  // The probes detach their inputs: nothing to record.
  return noGrad(() => {
    const global = run.part((r) => r.f.global, 0);
    // global is the residual MLP block's output when there is one, else the pooled feature itself
    if (!run.representative((r) => r.f.mlp !== null)) return { global, pooled: global, mlp: null };
    return { global, pooled: run.part((r) => r.f.pooled, 0), mlp: global };
  });
}
