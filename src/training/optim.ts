// Optimisers over a flat parameter buffer: one fused backend call per step for the whole
// model (gradients reach the flat gradient buffer in place where the op producing them can write
// there — conv and linear weights, batch-norm parameters — and by one copy per tensor otherwise).
import { optimizerHyperValues, type Backend, type OptimizerHyper, type OptimizerKind } from '../backend/backend.js';
import { keep, outsideScopes, type Tensor } from '../tensor.js';
import { writeValues, zeros } from '../ops/index.js';
import { FlatBuffer } from './flat.js';

export interface OptimizerConfig {
  kind: OptimizerKind;
  weightDecay: number;
  momentum?: number;
  /** LARS trust coefficient (solo-learn: 0.02; ImageNet-1k: 0.001). */
  eta?: number;
  clipLr?: boolean;
  eps?: number;
  beta1?: number;
  beta2?: number;
  /** Which tensors get weight decay and LARS adaptation (default: rank > 1). */
  adapt?: (name: string, t: Tensor) => boolean;
}

export class Optimizer {
  readonly params: FlatBuffer;
  readonly grads: Tensor;
  readonly state1: Tensor;
  readonly state2: Tensor | null;
  /**
   * [4]: this step's lr and bias corrections (optimizerHyperValues), read by the device so a
   * recorded step can be replayed after prepare() writes new ones.
   */
  readonly hyper: Tensor;
  /** Steps prepared so far (checkpoints save and restore it). */
  stepCount = 0;
  private readonly fixedHyper: OptimizerHyper;

  constructor(readonly backend: Backend, named: [string, Tensor][], readonly config: OptimizerConfig) {
    this.params = new FlatBuffer(backend, named, config.adapt);
    this.grads = this.params.zerosLike();
    this.params.sinkGradsInto(this.grads);
    this.state1 = this.params.zerosLike();
    this.state2 = config.kind === 'adamw' ? this.params.zerosLike() : null;
    // In the parameters' dtype: f32 on the GPU, and f64 runs on the CPU keep lr exact.
    this.hyper = outsideScopes(() => keep(zeros([4], { backend, dtype: this.params.flat.dtype === 'f64' ? 'f64' : 'f32' })));
    const c = config;
    this.fixedHyper = {
      weightDecay: c.weightDecay, momentum: c.momentum ?? 0.9, eta: c.eta ?? 0.02, clipLr: c.clipLr ?? true,
      eps: c.eps ?? 1e-8, beta1: c.beta1 ?? 0.9, beta2: c.beta2 ?? 0.999,
    };
  }

  /** Apply the gradients currently in each parameter's `.grad`, then clear them. */
  step(lr: number): void {
    this.prepare(lr);
    this.record();
  }

  /**
   * Count the step and write its lr and bias corrections into `hyper`: host work only, so a
   * recorded step (record()) can be replayed after it.
   */
  prepare(lr: number): void {
    this.stepCount++;
    const h = this.fixedHyper;
    // f64 values, rounded to hyper's dtype by writeValues (f64 runs keep lr exact)
    writeValues(this.hyper, optimizerHyperValues(lr, this.stepCount, h.beta1, h.beta2, 'f64'));
  }

  /** Record the step that prepare() set up: the gradients of each `.grad`, which are then cleared. */
  record(): void {
    const c = this.config;
    this.params.gatherGrads(this.grads);
    this.backend.optimizerStep(c.kind, this.params.flat, this.grads, this.state1, this.state2, this.params.segments,
      this.hyper, this.fixedHyper);
    for (const e of this.params.entries) { e.tensor.grad?.dispose(); e.tensor.grad = null; }
  }

  /** Named state tensors for checkpoints. */
  stateTensors(): Map<string, Tensor> {
    const m = new Map<string, Tensor>([['state1', this.state1]]);
    if (this.state2) m.set('state2', this.state2);
    return m;
  }
}
