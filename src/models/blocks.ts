// Residual blocks with torchvision's parameter names (conv1, bn1, …, downsample.0/.1). The
// 3×3-capable convolutions take a kernel size so the same classes build ResNets, RF-ResNets
// (3×3 → 1×1) and BagNets (3×3 with padding 0, shortcut cropped to match).
import { Tensor } from '../tensor.js';
import { Module } from '../nn/module.js';
import { Conv2d, BatchNorm2d, Sequential, batchNormConv, type LayerOptions } from '../nn/layers.js';
import { slice } from '../ops/index.js';
import { ShapeError, fmtShape } from '../runtime/errors.js';
import type { Shape } from '../runtime/shape.js';
import type { Tracer, Traceable } from './trace.js';

export interface BlockOptions {
  inplanes: number;
  planes: number;
  stride: number;
  /** Kernel of the first 3×3-capable conv (bottleneck conv2, basic conv1). */
  k1: 1 | 3;
  /** Kernel of a basic block's conv2 (ignored by bottlenecks). */
  k2: 1 | 3;
  /** 'same': padding (k−1)/2 (ResNet); 'valid': padding 0 (BagNet). */
  padding: 'same' | 'valid';
  layer: LayerOptions;
}

const padFor = (k: number, mode: 'same' | 'valid'): number => (mode === 'same' ? (k - 1) >> 1 : 0);

/** torchvision's shortcut projection: 1×1 conv with the block's stride, then BN. */
function makeDownsample(inC: number, outC: number, stride: number, lo: LayerOptions): Sequential | null {
  if (stride === 1 && inC === outC) return null;
  return new Sequential(new Conv2d(inC, outC, 1, { ...lo, stride }), new BatchNorm2d(outC, lo));
}

/**
 * The shortcut, shaped like the residual branch's output y. With padding-0 (BagNet)
 * convolutions the branch is smaller than the shortcut; BagNet crops the shortcut's
 * bottom/right edge (`residual[:, :, :-d, :-d]`).
 */
function shortcutLike(y: Tensor, r: Tensor): Tensor {
  if (r.shape[1] === y.shape[1] && r.shape[2] === y.shape[2] && r.shape[3] === y.shape[3]) return r;
  if (r.shape[1] < y.shape[1] || r.shape[2] < y.shape[2] || r.shape[3] !== y.shape[3]) {
    throw new ShapeError(`residual add: shortcut ${fmtShape(r.shape)} cannot be cropped to ${fmtShape(y.shape)}`);
  }
  return slice(r, [0, 0, 0, 0], [r.shape[0], y.shape[1], y.shape[2], r.shape[3]]);
}

function checkShortcutShape(y: Shape, r: Shape, name: string): void {
  if (r[3] !== y[3] || r[1] < y[1] || r[2] < y[2]) {
    throw new ShapeError(`trace: ${name}: shortcut ${fmtShape(r)} does not match block output ${fmtShape(y)}`);
  }
}

export class BasicBlock extends Module implements Traceable {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;
  readonly outChannels: number;

  constructor(o: BlockOptions) {
    super();
    const lo = o.layer;
    this.outChannels = o.planes;
    this.conv1 = this.child('conv1', new Conv2d(o.inplanes, o.planes, o.k1, { ...lo, stride: o.stride, padding: padFor(o.k1, o.padding) }));
    this.bn1 = this.child('bn1', new BatchNorm2d(o.planes, lo));
    this.conv2 = this.child('conv2', new Conv2d(o.planes, o.planes, o.k2, { ...lo, padding: padFor(o.k2, o.padding) }));
    this.bn2 = this.child('bn2', new BatchNorm2d(o.planes, lo));
    const ds = makeDownsample(o.inplanes, o.planes, o.stride, lo);
    this.downsample = ds ? this.child('downsample', ds) : null;
  }

  forward(x: Tensor): Tensor {
    // conv2(relu(bn1(·))) is one op that does not keep bn1's output (nn/layers.ts
    // batchNormConv); relu(bn2(·) + shortcut) is one fused normalisation pass.
    const x1 = this.conv1.forwardHinted(x, this.bn1.statsGroups());
    const y = batchNormConv(this.bn1, this.conv2, x1, { relu: true, batchNormGroups: this.bn2.statsGroups() });
    x1.dispose(); // the tape's aliases keep what backward needs
    const r = this.downsample ? this.downsample.forward(x) : x;
    return this.bn2.forwardFused(y, { residual: shortcutLike(y, r), relu: true });
  }

  trace(x: Shape, t: Tracer, name: string): Shape {
    let y = t.run(this.conv1, `${name}.conv1`, x);
    y = t.run(this.bn1, `${name}.bn1`, y);
    y = t.run(this.conv2, `${name}.conv2`, y);
    y = t.run(this.bn2, `${name}.bn2`, y);
    const r = this.downsample ? t.branch(() => t.run(this.downsample!, `${name}.downsample`, x)) : x;
    checkShortcutShape(y, r, name);
    return y;
  }
}

export class Bottleneck extends Module implements Traceable {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv3: Conv2d;
  readonly bn3: BatchNorm2d;
  readonly downsample: Sequential | null;
  readonly outChannels: number;

  /** `outChannels` defaults to planes × 4; the RF-ResNet MLP block passes it explicitly. */
  constructor(o: BlockOptions & { outChannels?: number }) {
    super();
    const lo = o.layer;
    const out = o.outChannels ?? o.planes * Bottleneck.expansion;
    this.outChannels = out;
    this.conv1 = this.child('conv1', new Conv2d(o.inplanes, o.planes, 1, lo));
    this.bn1 = this.child('bn1', new BatchNorm2d(o.planes, lo));
    // ResNet v1.5: the stride sits on the 3×3 conv.
    this.conv2 = this.child('conv2', new Conv2d(o.planes, o.planes, o.k1, { ...lo, stride: o.stride, padding: padFor(o.k1, o.padding) }));
    this.bn2 = this.child('bn2', new BatchNorm2d(o.planes, lo));
    this.conv3 = this.child('conv3', new Conv2d(o.planes, out, 1, lo));
    this.bn3 = this.child('bn3', new BatchNorm2d(out, lo));
    const ds = makeDownsample(o.inplanes, out, o.stride, lo);
    this.downsample = ds ? this.child('downsample', ds) : null;
  }

  forward(x: Tensor): Tensor {
    // conv2(relu(bn1(·))) and conv3(relu(bn2(·))) are single ops that do not keep the
    // normalised maps (nn/layers.ts batchNormConv); each intermediate is let go once consumed.
    const x1 = this.conv1.forwardHinted(x, this.bn1.statsGroups());
    const x2 = batchNormConv(this.bn1, this.conv2, x1, { relu: true, batchNormGroups: this.bn2.statsGroups() });
    x1.dispose();
    const y = batchNormConv(this.bn2, this.conv3, x2, { relu: true, batchNormGroups: this.bn3.statsGroups() });
    x2.dispose();
    const r = this.downsample ? this.downsample.forward(x) : x;
    return this.bn3.forwardFused(y, { residual: shortcutLike(y, r), relu: true });
  }

  trace(x: Shape, t: Tracer, name: string): Shape {
    let y = t.run(this.conv1, `${name}.conv1`, x);
    y = t.run(this.bn1, `${name}.bn1`, y);
    y = t.run(this.conv2, `${name}.conv2`, y);
    y = t.run(this.bn2, `${name}.bn2`, y);
    y = t.run(this.conv3, `${name}.conv3`, y);
    y = t.run(this.bn3, `${name}.bn3`, y);
    const r = this.downsample ? t.branch(() => t.run(this.downsample!, `${name}.downsample`, x)) : x;
    checkShortcutShape(y, r, name);
    return y;
  }
}

export type ResidualBlock = BasicBlock | Bottleneck;
