// BYOL, CO-BYOL and BYOL-mc (SPEC §2). L_g(p, z) = 2 − 2·cos(p, sg(z)) averaged over the batch
// (same gradients as −2·cos); the local loss is SPEC's L_l = −(2/n²)·Σ_i[cos(p_l^i, sg(z')) +
// cos(p, sg(z_l'^i))], fused in one op. The target's BN running statistics are its own (updated
// by its train-mode forwards), neither copied nor averaged — as solo-learn does.
import type { LayerOptions } from '../nn/layers.js';
import { Tensor, tidy } from '../tensor.js';
import { add, cosineSimilarity, localCosineLoss, mean, mulScalar, noGrad, rsubScalar, detach } from '../ops/index.js';
import { applyLocal } from './heads.js';
import { TwoBranchMethod } from './networks.js';
import { ViewRun, firstViewFeatures } from './views.js';
import type { MethodName, SslMethod, StepContext, StepOutput } from './method.js';

export interface ByolConfig {
  method: Extract<MethodName, 'byol' | 'co-byol' | 'byol-mc'>;
  arch: string;
  width?: number;
  smallStem?: boolean;
  projHidden: number;
  projOut: number;
  predHidden: number;
  /** Hidden layers in the projector (the paper's I-1K 100-ep runs use 2). */
  projLayers: number;
  /** Weight of the local loss. */
  ws: number;
  /** Downsample the local map to n×n positions before the local heads (null: all positions). */
  localGrid: number | null;
  tauBase: number;
  layer?: LayerOptions;
}

const byolLoss = (p: Tensor, z: Tensor): Tensor => rsubScalar(mulScalar(mean(cosineSimilarity(p, detach(z))), 2), 2);

export class Byol extends TwoBranchMethod implements SslMethod {
  readonly name: ByolConfig['method'];
  readonly tauBase: number;

  constructor(readonly config: ByolConfig) {
    super({
      arch: config.arch, width: config.width, smallStem: config.smallStem, predHidden: config.predHidden, layer: config.layer,
      projector: { hidden: config.projHidden, outDim: config.projOut, hiddenLayers: config.projLayers },
    }, config.method === 'co-byol', config.localGrid);
    this.name = config.method;
    this.tauBase = config.tauBase;
  }

  forward(globalViews: Tensor[], smallViews: Tensor[], _ctx: StepContext): StepOutput {
    const on = this.online, tg = this.target;
    // Target first: projections (and local projections) under noGrad; its features go when it
    // returns. Run before the online network, its working set never sits on top of the online
    // activations saved for backward (the step's peak memory); the values do not depend on order.
    const target = noGrad(() => tidy(() => ViewRun.run(globalViews, (x) => {
      const f = tg.backbone.forwardFeatures(x);
      return { z: tg.projector.forward(f.global), zl: this.local ? applyLocal(tg.localProjector!, this.grid(f.localMap)) : null };
    })));
    const tgt = [0, 1].map((v) => noGrad(() => ({ z: target.part((r) => r.z, v), zl: this.local ? target.part((r) => r.zl!, v) : null })));
    // Online: features → projections → predictions, all global views in one batch.
    const online = ViewRun.run(globalViews, (x) => {
      const f = on.net.backbone.forwardFeatures(x);
      return { f, p: on.predictor.forward(on.net.projector.forward(f.global)) };
    });
    const p = [online.part((r) => r.p, 0), online.part((r) => r.p, 1)];
    let lg = add(byolLoss(p[0], tgt[1].z), byolLoss(p[1], tgt[0].z));
    // Multi-crop: small views through the online network only (one batch), against both global targets.
    if (smallViews.length) {
      const small = ViewRun.run(smallViews, (x) => on.forward(x));
      for (let v = 0; v < smallViews.length; v++) {
        const ps = small.part((t) => t, v);
        lg = add(lg, add(byolLoss(ps, tgt[0].z), byolLoss(ps, tgt[1].z)));
      }
    }
    const parts: Record<string, Tensor> = { lossGlobal: lg };
    let loss = lg;
    if (this.local) {
      const local = online.then((r) => applyLocal(on.localPredictor!, applyLocal(on.net.localProjector!, this.grid(r.f.localMap))));
      const pl = [local.part((t) => t, 0), local.part((t) => t, 1)];
      // L_l(v→v') + L_l(v'→v), each 2·localCosineLoss (SPEC's −2/n² convention)
      const ll = mulScalar(add(
        localCosineLoss(pl[0], tgt[1].z, p[0], tgt[1].zl!),
        localCosineLoss(pl[1], tgt[0].z, p[1], tgt[0].zl!)), 2);
      parts.lossLocal = ll;
      loss = add(lg, mulScalar(ll, this.config.ws));
    }
    return { loss, parts, features: firstViewFeatures(online) };
  }
}
