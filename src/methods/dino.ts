// DINO and CO-DINO (SPEC §3; ResNet heads as solo-learn's). Head: 3-layer MLP (GELU, no BN) to
// a bottleneck, L2-normalise, then a weight-normalised linear layer to K prototypes (unit-norm
// rows, no gain: solo-learn's norm_last_layer). Student temperature 0.1; teacher temperature
// warms up linearly; teacher outputs are centred by an EMA (0.9) of their batch mean.
// CO-DINO: student local probabilities (every position) against the teacher's global ones, and
// the student's global against the teacher's local ones (centred with their own centre); since
// cross-entropy is linear in its target, the second term uses the positions' mean teacher
// distribution, which is exact and avoids a B×P×K target.
import { Module } from '../nn/module.js';
import type { Sequential, LayerOptions } from '../nn/layers.js';
import { Tensor, keep, outsideScopes, tidy } from '../tensor.js';
import { createBackbone } from '../models/presets.js';
import type { ResNet } from '../models/resnet.js';
import { initRng } from '../nn/init.js';
import { add, l2Normalize, matmul, mean, mulScalar, neg, noGrad, randn, reshape, softmax, logSoftmax, sub, sum, mul, tensor, writeValues, zeros } from '../ops/index.js';
import { applyLocal, mlp, poolLocalGrid } from './heads.js';
import type { MethodName, SslMethod, StepContext, StepOutput } from './method.js';
import { linearWarmup } from '../training/schedule.js';
import { ViewRun, firstViewFeatures } from './views.js';

export interface DinoConfig {
  method: Extract<MethodName, 'dino' | 'co-dino' | 'dino-mc'>;
  arch: string;
  width?: number;
  smallStem?: boolean;
  hidden: number;
  bottleneck: number;
  prototypes: number;
  studentTemp: number;
  teacherTemp: [number, number];
  warmupTeacherEpochs: number;
  centerMomentum: number;
  ws: number;
  localGrid: number | null;
  tauBase: number;
  layer?: LayerOptions;
}

class DinoHead extends Module {
  readonly mlp: Sequential;
  readonly prototypes: Tensor;
  constructor(inDim: number, c: DinoConfig) {
    super();
    this.mlp = this.child('mlp', mlp({ inDim, hidden: c.hidden, outDim: c.bottleneck, hiddenLayers: 2, activation: 'gelu', hiddenBn: false }, c.layer));
    const o = { backend: c.layer?.backend, dtype: c.layer?.dtype, std: 1 / Math.sqrt(c.bottleneck) };
    this.prototypes = this.param('prototypes', randn([c.prototypes, c.bottleneck], c.layer?.rng ?? initRng(), o));
  }
  /** Logits before temperature: cosine of the normalised bottleneck with each prototype. */
  forward(x: Tensor): Tensor {
    return matmul(l2Normalize(this.mlp.forward(x)), l2Normalize(this.prototypes, 1), { transB: true });
  }
}

/** Teacher centres: buffers, so checkpoints carry them. */
class Centers extends Module {
  readonly global: Tensor;
  readonly local: Tensor;
  /**
   * [1]: the EMA momentum as the device tensor emaUpdate reads (not a buffer: a constant, not
   * state), in the centres' dtype: f32 on WebGPU, and f64 runs keep centerMomentum exact.
   */
  readonly momentum: Tensor;
  /** [1]: 1 / the teacher temperature of this step, written before the step (Dino.prepareStep). */
  readonly invTemperature: Tensor;
  constructor(K: number, c: DinoConfig) {
    super();
    this.global = this.buffer('global', zeros([K], { backend: c.layer?.backend, dtype: c.layer?.dtype }));
    this.local = this.buffer('local', zeros([K], { backend: c.layer?.backend, dtype: c.layer?.dtype }));
    this.momentum = outsideScopes(() => keep(tensor([c.centerMomentum], [1], { backend: this.global.backend, dtype: this.global.dtype })));
    this.invTemperature = outsideScopes(() => keep(tensor([1 / c.teacherTemp[0]], [1], { backend: this.global.backend, dtype: this.global.dtype })));
  }
  forward(x: Tensor): Tensor { return x; }
}

class DinoNetwork extends Module {
  readonly backbone: ResNet;
  readonly head: DinoHead;
  readonly localHead: DinoHead | null;
  constructor(c: DinoConfig, local: boolean) {
    super();
    this.backbone = this.child('backbone', createBackbone(c.arch, { width: c.width, smallStem: c.smallStem, ...c.layer }));
    this.head = this.child('head', new DinoHead(this.backbone.featureDim, c));
    this.localHead = local ? this.child('local_head', new DinoHead(this.backbone.featureDim, c)) : null;
  }
  forward(x: Tensor): Tensor { return this.head.forward(this.backbone.forward(x)); }
}

class DinoTeacher extends DinoNetwork {
  readonly centers: Centers;
  constructor(c: DinoConfig, local: boolean) {
    super(c, local);
    this.centers = this.child('centers', new Centers(c.prototypes, c));
  }
}

/** Mean over rows of −Σ target·log_softmax(student/T_s). */
function dinoCe(studentLogits: Tensor, teacherProbs: Tensor, Ts: number): Tensor {
  return neg(mean(sum(mul(teacherProbs, logSoftmax(studentLogits, Ts)), -1)));
}

export class Dino implements SslMethod {
  readonly name: DinoConfig['method'];
  readonly online: DinoNetwork;
  readonly target: DinoTeacher;
  readonly tauBase: number;
  private readonly local: boolean;

  constructor(readonly config: DinoConfig) {
    this.name = config.method;
    this.local = config.method === 'co-dino';
    this.tauBase = config.tauBase;
    this.online = new DinoNetwork(config, this.local);
    this.target = new DinoTeacher(config, this.local);
    this.target.loadStateDict(this.online.stateDict(), false);
    for (const p of this.target.parameters()) p.requiresGrad = false;
  }

  get backbone(): ResNet { return this.online.backbone; }

  emaPairs() {
    const teacher = new Map(this.target.namedParameters());
    const online = [...this.online.namedParameters()];
    return { online, target: online.map(([n]) => [n, teacher.get(n)!] as [string, Tensor]) };
  }

  private grid(m: Tensor): Tensor { return this.config.localGrid ? poolLocalGrid(m, this.config.localGrid) : m; }

  private preparedStep: number | null = null;

  /**
   * The teacher temperature (warmed up over the first epochs) into the tensor the teacher's
   * softmax multiplies by, so that a recorded step reads it rather than records it.
   */
  prepareStep(ctx: StepContext): void {
    const c = this.config, inv = this.target.centers.invTemperature;
    const v = 1 / linearWarmup(ctx.step, c.warmupTeacherEpochs * ctx.stepsPerEpoch, c.teacherTemp[0], c.teacherTemp[1]);
    writeValues(inv, [v]);
    this.preparedStep = ctx.step;
  }

  forward(globalViews: Tensor[], smallViews: Tensor[], ctx: StepContext): StepOutput {
    const c = this.config, st = this.online, te = this.target;
    if (this.preparedStep !== ctx.step) this.prepareStep(ctx); // callers other than the trainer
    const invTt = te.centers.invTemperature;
    // Teacher and student each run the global views as one batch (per-view batch statistics);
    // softmax, centring and losses are per row, so they work on the stacked rows directly.
    const tRun = noGrad(() => tidy(() => ViewRun.run(globalViews, (x) => { // the teacher's features go when it returns
      const f = te.backbone.forwardFeatures(x);
      const logits = te.head.forward(f.global);
      const probs = softmax(mul(sub(logits, te.centers.global), invTt));
      let localProbs: Tensor | null = null, localLogits: Tensor | null = null;
      if (this.local) {
        localLogits = applyLocal(te.localHead!, this.grid(f.localMap)); // [V·B, P, K]
        localProbs = mean(softmax(mul(sub(localLogits, te.centers.local), invTt)), 1); // mean over positions: [V·B, K]
      }
      return { logits, probs, localLogits, localProbs };
    })));
    const teacher = noGrad(() => globalViews.map((_, v) => ({ probs: tRun.part((r) => r.probs, v), localProbs: this.local ? tRun.part((r) => r.localProbs!, v) : null })));
    const online = ViewRun.run(globalViews, (x) => {
      const f = st.backbone.forwardFeatures(x);
      return { f, s: st.head.forward(f.global) };
    });
    const s = globalViews.map((_, v) => online.part((r) => r.s, v));
    const smallRun = smallViews.length ? ViewRun.run(smallViews, (x) => st.forward(x)) : null;
    const smallLogits = smallViews.map((_, v) => smallRun!.part((t) => t, v));
    let lg: Tensor | null = null, pairs = 0;
    const addTerm = (t: Tensor) => { lg = lg ? add(lg, t) : t; pairs++; };
    for (let si = 0; si < s.length; si++) for (let ti = 0; ti < teacher.length; ti++) if (si !== ti) addTerm(dinoCe(s[si], teacher[ti].probs, c.studentTemp));
    for (const sl of smallLogits) for (const t of teacher) addTerm(dinoCe(sl, t.probs, c.studentTemp));
    const lossGlobal = mulScalar(lg!, 1 / pairs);
    const parts: Record<string, Tensor> = { lossGlobal };
    let loss = lossGlobal;
    if (this.local) {
      let ll: Tensor | null = null;
      const local = online.then((r) => applyLocal(st.localHead!, this.grid(r.f.localMap)));
      for (const [a, b] of [[0, 1], [1, 0]]) {
        const sl = local.part((t) => t, a); // [B, P, K]
        const [B, , K] = sl.shape;
        const tg = reshape(teacher[b].probs, [B, 1, K]);
        const t1 = neg(mean(sum(mul(tg, logSoftmax(sl, c.studentTemp)), -1)));
        const t2 = dinoCe(s[a], teacher[b].localProbs!, c.studentTemp);
        const term = add(t1, t2);
        ll = ll ? add(ll, term) : term;
      }
      parts.lossLocal = mulScalar(ll!, 0.5);
      loss = add(lossGlobal, mulScalar(parts.lossLocal, c.ws));
    }
    // Centre updates (EMA of the teacher's batch means), recorded with the step.
    noGrad(() => {
      const m = te.centers.momentum;
      // the mean over both views' rows = the average of the two views' batch means
      const g = mean(reshape(tRun.whole((r) => r.logits), [-1, c.prototypes]), 0);
      te.centers.global.backend.emaUpdate(te.centers.global, g, m);
      if (this.local) {
        const ml = mean(reshape(tRun.whole((r) => r.localLogits!), [-1, c.prototypes]), 0);
        te.centers.local.backend.emaUpdate(te.centers.local, ml, m);
      }
    });
    return { loss, parts, features: firstViewFeatures(online) };
  }
}
