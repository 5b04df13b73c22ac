// The two-branch networks shared by BYOL- and MoCo-style methods: a projected network
// (backbone + global projector + optional local projector — the target is a copy of it) and
// the online side that adds predictors. Child names give the checkpoint names
// (net.backbone.*, net.projector.*, net.local_projector.*, predictor.*, local_predictor.*).
import { Module } from '../nn/module.js';
import type { Sequential, LayerOptions } from '../nn/layers.js';
import type { Tensor } from '../tensor.js';
import { createBackbone } from '../models/presets.js';
import type { ResNet } from '../models/resnet.js';
import { mlp, type MlpSpec } from './heads.js';

export interface TwoBranchSpec {
  arch: string;
  width?: number;
  smallStem?: boolean;
  /** Projector layout; its input is the backbone's feature dimension. */
  projector: Omit<MlpSpec, 'inDim'>;
  /** Predictor hidden width (256 → hidden → 256 style, output = the projector's). */
  predHidden: number;
  layer?: LayerOptions;
}

export class ProjectedNetwork extends Module {
  readonly backbone: ResNet;
  readonly projector: Sequential;
  readonly localProjector: Sequential | null;
  constructor(s: TwoBranchSpec, local: boolean) {
    super();
    this.backbone = this.child('backbone', createBackbone(s.arch, { width: s.width, smallStem: s.smallStem, ...s.layer }));
    const spec = { ...s.projector, inDim: this.backbone.featureDim };
    this.projector = this.child('projector', mlp(spec, s.layer));
    this.localProjector = local ? this.child('local_projector', mlp(spec, s.layer)) : null;
  }
  forward(x: Tensor): Tensor { return this.projector.forward(this.backbone.forward(x)); }
}

export class OnlineNetwork extends Module {
  readonly net: ProjectedNetwork;
  readonly predictor: Sequential;
  readonly localPredictor: Sequential | null;
  constructor(s: TwoBranchSpec, local: boolean) {
    super();
    this.net = this.child('net', new ProjectedNetwork(s, local));
    const spec = { inDim: s.projector.outDim, hidden: s.predHidden, outDim: s.projector.outDim };
    this.predictor = this.child('predictor', mlp(spec, s.layer));
    this.localPredictor = local ? this.child('local_predictor', mlp(spec, s.layer)) : null;
  }
  forward(x: Tensor): Tensor { return this.predictor.forward(this.net.forward(x)); }
}
