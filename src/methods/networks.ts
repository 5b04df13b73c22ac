// The two-branch networks shared by BYOL- and MoCo-style methods: a projected network
// (backbone + global projector + optional local projector — the target is a copy of it) and
// the online side that adds predictors. Child names give the checkpoint names
// (net.backbone.*, net.projector.*, net.local_projector.*, predictor.*, local_predictor.*).
import { Module } from '../nn/module.js';
import type { Sequential, LayerOptions } from '../nn/layers.js';
import type { Tensor } from '../tensor.js';
import { createBackbone } from '../models/presets.js';
import type { ResNet } from '../models/resnet.js';
import { mlp, poolLocalGrid, type MlpSpec } from './heads.js';

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

/**
 * What BYOL- and MoCo-style methods share: the online network, its EMA target (initialised as a
 * copy, never receiving gradients), the pairing of their parameters for the EMA, and the
 * optional pooling of the local map to n×n positions before the local heads.
 */
export abstract class TwoBranchMethod {
  readonly online: OnlineNetwork;
  readonly target: ProjectedNetwork;

  constructor(spec: TwoBranchSpec, protected readonly local: boolean, private readonly localGrid: number | null) {
    this.online = new OnlineNetwork(spec, local);
    this.target = new ProjectedNetwork(spec, local);
    this.target.loadStateDict(this.online.net.stateDict());
    for (const p of this.target.parameters()) p.requiresGrad = false;
  }

  get backbone(): ResNet { return this.online.net.backbone; }

  emaPairs(): { online: [string, Tensor][]; target: [string, Tensor][] } {
    return { online: [...this.online.net.namedParameters('net')], target: [...this.target.namedParameters()] };
  }

  /** The local map as the local heads see it: [B, h, w, C], or pooled to [B, n², C]. */
  protected grid(localMap: Tensor): Tensor { return this.localGrid ? poolLocalGrid(localMap, this.localGrid) : localMap; }
}
