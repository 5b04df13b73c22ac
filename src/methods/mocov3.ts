// MoCoV3 and CO-MoCoV3 (SPEC §3). ctr(q, k) = CE(q̂·k̂ᵀ/T, arange)·2T on L2-normalised queries
// and keys, symmetrised over the two views. CO-MoCoV3 adds, weighted by w_s, local queries of
// one view against the other view's global keys of the batch (positives on the diagonal) and
// the global query against each position's local keys, averaged over positions.
import type { LayerOptions } from '../nn/layers.js';
import { tidy, type Tensor } from '../tensor.js';
import { add, crossEntropy, detach, l2Normalize, matmul, mulScalar, noGrad, permute, reshape, tensor } from '../ops/index.js';
import { applyLocal } from './heads.js';
import { TwoBranchMethod } from './networks.js';
import { ViewRun, firstViewFeatures } from './views.js';
import type { MethodName, SslMethod, StepContext, StepOutput } from './method.js';

export interface MocoConfig {
  method: Extract<MethodName, 'mocov3' | 'co-mocov3'>;
  arch: string;
  width?: number;
  smallStem?: boolean;
  projHidden: number;
  projOut: number;
  predHidden: number;
  temperature: number;
  ws: number;
  localGrid: number | null;
  tauBase: number;
  layer?: LayerOptions;
}

/** CE over rows of q̂·k̂ᵀ/T where row r's positive is key labels[r]; scaled by 2T. */
function contrastive(q: Tensor, k: Tensor, labels: Tensor, T: number): Tensor {
  const logits = mulScalar(matmul(l2Normalize(q), l2Normalize(detach(k)), { transB: true }), 1 / T);
  return mulScalar(crossEntropy(logits, labels), 2 * T);
}

export class MocoV3 extends TwoBranchMethod implements SslMethod {
  readonly name: MocoConfig['method'];
  readonly tauBase: number;

  constructor(readonly config: MocoConfig) {
    // Projector: Linear → BN → ReLU → Linear → BN without affine (SPEC §3).
    super({
      arch: config.arch, width: config.width, smallStem: config.smallStem, predHidden: config.predHidden, layer: config.layer,
      projector: { hidden: config.projHidden, outDim: config.projOut, outBn: 'plain' },
    }, config.method === 'co-mocov3', config.localGrid);
    this.name = config.method;
    this.tauBase = config.tauBase;
  }

  forward(globalViews: Tensor[], _small: Tensor[], _ctx: StepContext): StepOutput {
    const on = this.online, tg = this.target, T = this.config.temperature;
    const B = globalViews[0].shape[0];
    const be = globalViews[0].backend;
    const diag = tensor(Int32Array.from({ length: B }, (_, i) => i), [B], { dtype: 'i32', backend: be });
    // Target first, under noGrad; its features (and the batched keys) go when it returns. Run before
    // the online network, its working set never sits on top of the online activations saved for
    // backward (the step's peak memory); the values do not depend on order.
    const tgt = noGrad(() => tidy(() => {
      const t = ViewRun.run(globalViews, (x) => {
        const f = tg.backbone.forwardFeatures(x);
        return { k: tg.projector.forward(f.global), kl: this.local ? applyLocal(tg.localProjector!, this.grid(f.localMap)) : null };
      });
      return [0, 1].map((v) => ({ k: t.part((r) => r.k, v), kl: this.local ? t.part((r) => r.kl!, v) : null }));
    }));
    const online = ViewRun.run(globalViews, (x) => {
      const f = on.net.backbone.forwardFeatures(x);
      return { f, q: on.predictor.forward(on.net.projector.forward(f.global)) };
    });
    const q = [online.part((r) => r.q, 0), online.part((r) => r.q, 1)];
    const lg = add(contrastive(q[0], tgt[1].k, diag, T), contrastive(q[1], tgt[0].k, diag, T));
    const parts: Record<string, Tensor> = { lossGlobal: lg };
    let loss = lg;
    if (this.local) {
      let ll: Tensor | null = null;
      const local = online.then((r) => applyLocal(on.localPredictor!, applyLocal(on.net.localProjector!, this.grid(r.f.localMap))));
      for (const [a, b] of [[0, 1], [1, 0]]) {
        const ql = local.part((t) => t, a); // [B, P, D]
        const P = ql.shape[1], D = ql.shape[2];
        // local queries vs the other view's global keys: rows (b, i), positive key b
        const rowsLabel = tensor(Int32Array.from({ length: B * P }, (_, r) => Math.floor(r / P)), [B * P], { dtype: 'i32', backend: be });
        const t1 = contrastive(reshape(ql, [B * P, D]), tgt[b].k, rowsLabel, T);
        // global query vs each position's local keys: per position i, [B, B] logits
        const kl = reshape(permute(tgt[b].kl!, [1, 0, 2]), [P * B, D]);            // rows (i, b')
        const lq = matmul(l2Normalize(q[a]), l2Normalize(detach(kl)), { transB: true }); // [B, P·B]
        const perPos = reshape(permute(reshape(lq, [B, P, B]), [1, 0, 2]), [P * B, B]);  // rows (i, b)
        const posLabel = tensor(Int32Array.from({ length: P * B }, (_, r) => r % B), [P * B], { dtype: 'i32', backend: be });
        const t2 = mulScalar(crossEntropy(mulScalar(perPos, 1 / T), posLabel), 2 * T);
        const term = add(t1, t2);
        ll = ll ? add(ll, term) : term;
      }
      parts.lossLocal = ll!;
      loss = add(lg, mulScalar(ll!, this.config.ws));
    }
    return { loss, parts, features: firstViewFeatures(online) };
  }
}
