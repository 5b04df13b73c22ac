// The basic layers. Shapes and parameter names follow torch.nn; feature maps are NHWC.
import { Tensor, tidy } from '../tensor.js';
import { Module, resolveBackend, type ModuleOptions } from './module.js';
import { initRng } from './init.js';
import { conv2d, linear, batchNorm, batchNormConv2d, batchNormThenConv2d, relu, gelu, randn, rand, zeros, ones, full, type BatchNormOptions } from '../ops/index.js';
import { batchGroups } from './batch_groups.js';
import type { Rng } from '../runtime/rng.js';

export interface LayerOptions extends ModuleOptions { rng?: Rng }

function opts(o: LayerOptions | undefined) {
  return { backend: resolveBackend(o), dtype: o?.dtype ?? 'f32', rng: o?.rng ?? initRng() } as const;
}

export interface Conv2dConfig extends LayerOptions {
  stride?: number;
  padding?: number;
  bias?: boolean;
}

/** Conv2d with torchvision ResNet's init: kaiming normal, fan_out, ReLU gain. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: number;
  readonly padding: number;
  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: number, cfg: Conv2dConfig = {}) {
    super();
    const o = opts(cfg);
    this.stride = cfg.stride ?? 1;
    this.padding = cfg.padding ?? 0;
    const std = Math.sqrt(2 / (outChannels * kernelSize * kernelSize));
    this.weight = this.param('weight', randn([outChannels, inChannels, kernelSize, kernelSize], o.rng, { ...o, std }));
    this.bias = cfg.bias ? this.param('bias', zeros([outChannels], o)) : null;
  }
  forward(x: Tensor): Tensor { return this.forwardHinted(x, 0); }
  /**
   * forward(x); `batchNormGroups` > 0: a training-mode batch norm over that many groups of rows
   * takes the output (see conv2d's option).
   */
  forwardHinted(x: Tensor, batchNormGroups: number): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, batchNormGroups });
  }
}

/** Linear with torch's default init (uniform ±1/√in for weight and bias). */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, cfg: LayerOptions & { bias?: boolean } = {}) {
    super();
    const o = opts(cfg);
    const b = 1 / Math.sqrt(inFeatures);
    this.weight = this.param('weight', rand([outFeatures, inFeatures], o.rng, { ...o, lo: -b, hi: b }));
    this.bias = cfg.bias === false ? null : this.param('bias', rand([outFeatures], o.rng, { ...o, lo: -b, hi: b }));
  }
  forward(x: Tensor): Tensor { return linear(x, this.weight, this.bias); }
}

export interface BatchNormConfig extends LayerOptions {
  eps?: number;
  momentum?: number;
  affine?: boolean;
}

/** Batch norm over the last (channel) axis; BatchNorm1d and BatchNorm2d differ only in rank checks. */
class BatchNormBase extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  /** torch's num_batches_tracked (i32 here, I64 in checkpoints). */
  readonly numBatchesTracked: Tensor;
  readonly eps: number;
  readonly momentum: number;
  constructor(readonly numFeatures: number, private readonly rank: number, cfg: BatchNormConfig = {}) {
    super();
    const o = opts(cfg);
    this.eps = cfg.eps ?? 1e-5;
    this.momentum = cfg.momentum ?? 0.1;
    const affine = cfg.affine ?? true;
    this.weight = affine ? this.param('weight', ones([numFeatures], o)) : null;
    this.bias = affine ? this.param('bias', zeros([numFeatures], o)) : null;
    this.runningMean = this.buffer('running_mean', zeros([numFeatures], o));
    this.runningVar = this.buffer('running_var', ones([numFeatures], o));
    this.numBatchesTracked = this.buffer('num_batches_tracked', full([], 0, { backend: o.backend, dtype: 'i32' }));
  }
  forward(x: Tensor): Tensor { return this.forwardFused(x); }
  /** The groups of rows a forward now would take batch statistics over; 0 in eval mode. */
  statsGroups(): number { return this.training ? batchGroups() : 0; }
  /** bn(x) (+ residual) (then ReLU) in one normalisation pass: what a residual block ends with. */
  forwardFused(x: Tensor, epilogue: { residual?: Tensor | null; relu?: boolean } = {}): Tensor {
    return batchNorm(x, this.options(x, epilogue));
  }
  /** batchNorm's options for this module on x (rank checked), with the given epilogue. */
  options(x: Tensor, epilogue: { residual?: Tensor | null; relu?: boolean } = {}): BatchNormOptions {
    if (x.rank !== this.rank) {
      throw new RangeError(`${this.constructor.name}: expected rank ${this.rank} input, got [${x.shape}]`);
    }
    return {
      gamma: this.weight, beta: this.bias, runningMean: this.runningMean, runningVar: this.runningVar, numBatchesTracked: this.numBatchesTracked,
      training: this.training, momentum: this.momentum, eps: this.eps, residual: epilogue.residual, relu: epilogue.relu,
      groups: this.training ? batchGroups() : 1,
    };
  }
}

/**
 * Whether batchNormConv folds a training-mode batch norm into the convolution after it (the
 * default); COENGINE_FOLD_BN=0 composes the two ops instead, keeping the normalised map (A/B
 * runs: the values and gradients are the same).
 */
export function foldBatchNorm(): boolean { return process.env.COENGINE_FOLD_BN !== '0'; }

/**
 * conv(relu(bn(x))) (relu: false, conv(bn(x))) as one op whose normalised map is not kept for
 * backward (ops/norm_conv.ts); `batchNormGroups`: a training-mode batch norm takes the
 * convolution's output (Conv2d.forwardHinted).
 */
export function batchNormConv(bn: BatchNorm2d, conv: Conv2d, x: Tensor, o: { relu: boolean; batchNormGroups?: number }): Tensor {
  const convOpts = { stride: conv.stride, padding: conv.padding, batchNormGroups: o.batchNormGroups ?? 0 };
  const fold = foldBatchNorm() ? batchNormConv2d : batchNormThenConv2d;
  return fold(x, bn.options(x, { relu: o.relu }), conv.weight, conv.bias, convOpts);
}

export class BatchNorm1d extends BatchNormBase {
  constructor(numFeatures: number, cfg: BatchNormConfig = {}) { super(numFeatures, 2, cfg); }
}

/** NHWC input [N, H, W, C]. */
export class BatchNorm2d extends BatchNormBase {
  constructor(numFeatures: number, cfg: BatchNormConfig = {}) { super(numFeatures, 4, cfg); }
}

export class ReLU extends Module { forward(x: Tensor): Tensor { return relu(x); } }
export class GELU extends Module { forward(x: Tensor): Tensor { return gelu(x); } }
export class Identity extends Module { forward(x: Tensor): Tensor { return x; } }

/** Children named '0', '1', … as torch.nn.Sequential. */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.child(String(i), m));
  }
  forward(x: Tensor): Tensor {
    // Each child runs in its own tidy scope: its temporaries are freed when it returns (what
    // backward needs is held by the tape's saved aliases, which tidy leaves alone). A batch
    // norm followed by a ReLU runs as one fused pass (the ReLU keeps its index and name).
    // Each intermediate output is let go as soon as the next child has consumed it: under
    // noGrad (a target network's forward) it is then freed at once, instead of when the caller's
    // scope ends (the whole step: a target forward's every block output stayed alive through the
    // online backward); with gradients, the tape's own alias keeps what backward needs.
    const first = x;
    for (let i = 0; i < this.layers.length; i++) {
      const m = this.layers[i], next = this.layers[i + 1], input = x;
      const fuse = m instanceof BatchNormBase && next instanceof ReLU;
      const bnGroups = m instanceof Conv2d && next instanceof BatchNormBase ? next.statsGroups() : 0;
      x = tidy(() => (fuse ? (m as BatchNormBase).forwardFused(input, { relu: true })
        : bnGroups ? (m as Conv2d).forwardHinted(input, bnGroups) : m.forward(input)));
      if (input !== first && input !== x) input.dispose();
      if (fuse) i++;
    }
    return x;
  }
}
