// The backbone: torchvision ResNet v1.5 structure and parameter names, generalised by a
// BackboneConfig to RF-ResNets (SPEC §4) and BagNet. Feature maps are NHWC throughout.
import { Tensor, tidy } from '../tensor.js';
import { Module } from '../nn/module.js';
import { Conv2d, BatchNorm2d, Linear, Sequential, type LayerOptions } from '../nn/layers.js';
import { ZeroRng } from './zero_rng.js';
import { gather, maxPool2d, mean, reshape, tensor } from '../ops/index.js';
import type { Shape } from '../runtime/shape.js';
import { ShapeError, fmtShape } from '../runtime/errors.js';
import { BasicBlock, Bottleneck, type ResidualBlock } from './blocks.js';
import { blockKernels, expansionOf, stagePlanes, stageStrides, validateConfig, type BackboneConfig } from './config.js';
import type { Tracer, Traceable } from './trace.js';

export interface BackboneOptions extends LayerOptions {
  /** Add a classifier `fc` (torchvision's name) with this many outputs. */
  numClasses?: number;
  /**
   * 'kaiming' (default): torchvision's initialisation from the seeded generator.
   * 'zeros': all weights zero; cheap to build (no random draws). For counting MACs/parameters
   * and as a target for loading a checkpoint.
   */
  init?: 'kaiming' | 'zeros';
}

export interface FeatureOptions {
  /**
   * Flat positions (row-major over the h×w local map) to drop before pooling: internal
   * masking (SPEC §7). The same positions are dropped for every image of the batch.
   */
  drop?: ArrayLike<number>;
}

export interface Features {
  layer3: Tensor;
  /** Last feature map before pooling, [B, h, w, C]: the local representations. */
  localMap: Tensor;
  /** Same tensor as localMap (the layer-wise probes of Table 10 name it by stage). */
  layer4: Tensor;
  /** Global average of the (kept) local representations, [B, C]: the "patch" feature. */
  pooled: Tensor;
  /** After the residual MLP block, [B, C]; null without one. */
  mlp: Tensor | null;
  /** The backbone's global representation: mlp when present, else pooled. */
  global: Tensor;
}

export class ResNet extends Module implements Traceable {
  readonly conv1: Conv2d;
  /** BagNet's second stem conv (3×3, padding 0); null otherwise. */
  readonly conv2: Conv2d | null;
  readonly bn1: BatchNorm2d;
  readonly layers: Sequential[];
  readonly mlp: ResidualBlock | null;
  readonly fc: Linear | null;
  readonly featureDim: number;

  constructor(readonly config: BackboneConfig, opts: BackboneOptions = {}) {
    super();
    validateConfig(config);
    const lo: LayerOptions = { backend: opts.backend, dtype: opts.dtype, rng: opts.init === 'zeros' ? new ZeroRng() : opts.rng };
    const planes = stagePlanes(config);
    const strides = stageStrides(config);
    const stemC = planes[0];
    switch (config.stem) {
      case '7x7': this.conv1 = this.child('conv1', new Conv2d(3, stemC, 7, { ...lo, stride: 2, padding: 3 })); break;
      case '3x3': this.conv1 = this.child('conv1', new Conv2d(3, stemC, 3, { ...lo, stride: 1, padding: 1 })); break;
      case 'bagnet': this.conv1 = this.child('conv1', new Conv2d(3, stemC, 1, lo)); break;
    }
    this.conv2 = config.stem === 'bagnet' ? this.child('conv2', new Conv2d(stemC, stemC, 3, lo)) : null;
    this.bn1 = this.child('bn1', new BatchNorm2d(stemC, lo));

    const exp = expansionOf(config.block);
    const padding = config.layout === 'bagnet' ? 'valid' : 'same';
    let inplanes = stemC;
    this.layers = config.blocks.map((n, s) => {
      const blocks: ResidualBlock[] = [];
      for (let i = 0; i < n; i++) {
        const { k1, k2 } = blockKernels(config.layout, i, n);
        const o = { inplanes, planes: planes[s], stride: i === 0 ? strides[s] : 1, k1, k2, padding, layer: lo } as const;
        blocks.push(config.block === 'bottleneck' ? new Bottleneck(o) : new BasicBlock(o));
        inplanes = planes[s] * exp;
      }
      return this.child(`layer${s + 1}`, new Sequential(...blocks));
    });
    this.featureDim = inplanes;
    // The RF-ResNet "MLP": one residual block of the backbone's type on 1×1 maps (all convs
    // 1×1), e.g. 2048→512→512→2048 for bottlenecks. Names: mlp.conv1.weight, mlp.bn1.*, …
    this.mlp = config.mlp
      ? this.child('mlp', config.block === 'bottleneck'
        ? new Bottleneck({ inplanes, planes: inplanes / exp, outChannels: inplanes, stride: 1, k1: 1, k2: 1, padding: 'same', layer: lo })
        : new BasicBlock({ inplanes, planes: inplanes, stride: 1, k1: 1, k2: 1, padding: 'same', layer: lo }))
      : null;
    this.fc = opts.numClasses ? this.child('fc', new Linear(inplanes, opts.numClasses, lo)) : null;
  }

  private stem(x: Tensor): Tensor {
    if (x.rank !== 4 || x.shape[3] !== 3) {
      throw new ShapeError(`ResNet: expected NHWC images [N, H, W, 3], got ${fmtShape(x.shape)}`);
    }
    return tidy(() => { // its intermediates go at once under noGrad (the tape keeps what backward needs)
      let y = this.conv2 ? this.conv2.forwardHinted(this.conv1.forward(x), this.bn1.statsGroups())
        : this.conv1.forwardHinted(x, this.bn1.statsGroups());
      y = this.bn1.forwardFused(y, { relu: true });
      return this.config.maxpool ? maxPool2d(y, { kernel: 3, stride: 2, padding: 1 }) : y;
    });
  }

  forwardFeatures(x: Tensor, opts: FeatureOptions = {}): Features {
    // The stem's and the first two stages' outputs are let go once consumed (as Sequential does
    // with its children's): freed at once under noGrad, kept by the tape where backward needs them.
    const consumed = (t: Tensor, by: Tensor) => { if (t !== by) t.dispose(); };
    const stem = this.stem(x);
    const layer1 = this.layers[0].forward(stem);
    consumed(stem, layer1);
    const layer2 = this.layers[1].forward(layer1);
    consumed(layer1, layer2);
    const layer3 = this.layers[2].forward(layer2);
    consumed(layer2, layer3);
    const localMap = this.layers[3].forward(layer3);
    const [B, h, w, C] = localMap.shape;
    let flat = reshape(localMap, [B, h * w, C]);
    if (opts.drop && opts.drop.length) {
      const idx = keptPositions(opts.drop, h * w, x);
      flat = gather(flat, 1, idx);
      idx.dispose(); // gather keeps its own alias for the backward pass
    }
    const pooled = mean(flat, 1);
    const mlp = this.mlp ? reshape(this.mlp.forward(reshape(pooled, [B, 1, 1, C])), [B, C]) : null;
    return { layer3, localMap, layer4: localMap, pooled, mlp, global: mlp ?? pooled };
  }

  /** The global representation [B, featureDim]. */
  forward(x: Tensor): Tensor { return this.forwardFeatures(x).global; }

  /** Class scores through `fc` (only when built with numClasses). */
  logits(x: Tensor): Tensor {
    if (!this.fc) throw new Error('ResNet.logits: built without numClasses, so there is no fc layer');
    return this.fc.forward(this.forward(x));
  }

  trace(x: Shape, t: Tracer, name: string): Shape {
    const p = (s: string) => (name ? `${name}.${s}` : s);
    if (x.length !== 4 || x[3] !== 3) throw new ShapeError(`trace: ResNet expects [N, H, W, 3], got ${fmtShape(x)}`);
    let y = t.run(this.conv1, p('conv1'), x);
    if (this.conv2) y = t.run(this.conv2, p('conv2'), y);
    y = t.run(this.bn1, p('bn1'), y);
    if (this.config.maxpool) y = t.maxPool(p('maxpool'), y, 3, 2, 1);
    this.layers.forEach((l, i) => {
      y = t.run(l, p(`layer${i + 1}`), y);
      if (i === 2) t.mark('layer3', y);
    });
    t.mark('localMap', y);
    y = t.globalAvgPool(p('avgpool'), y);
    t.mark('pooled', y);
    if (this.mlp) {
      const [B, C] = y;
      y = t.run(this.mlp, p('mlp'), [B, 1, 1, C]);
      y = [B, y[3]];
    }
    t.mark('global', y);
    if (this.fc) y = t.run(this.fc, p('fc'), y);
    return y;
  }
}

/** Indices of the positions that survive masking, as an i32 tensor for gather. */
function keptPositions(drop: ArrayLike<number>, n: number, like: Tensor): Tensor {
  const dropped = new Uint8Array(n);
  for (let i = 0; i < drop.length; i++) {
    const d = drop[i];
    if (!Number.isInteger(d) || d < 0 || d >= n) throw new RangeError(`forwardFeatures: drop position ${d} is outside the ${n} local positions`);
    dropped[d] = 1;
  }
  const kept: number[] = [];
  for (let i = 0; i < n; i++) if (!dropped[i]) kept.push(i);
  if (!kept.length) throw new RangeError(`forwardFeatures: dropping all ${n} local positions leaves nothing to pool`);
  return tensor(Int32Array.from(kept), [kept.length], { dtype: 'i32', backend: like.backend });
}
