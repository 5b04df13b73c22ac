// `coengine eval`: the paper's evaluations and analyses (SPEC §7) of a pretrained encoder, each
// written as JSON lines (one record per measured figure) and summarised on stderr.
import { existsSync, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Backend } from '../backend/backend.js';
import { createMethod } from '../methods/index.js';
import { createBackbone } from '../models/presets.js';
import type { ResNet } from '../models/resnet.js';
import { manualSeed } from '../nn/init.js';
import { tidy } from '../tensor.js';
import { evalBatch, evalView } from '../data/augment.js';
import { loadCheckpoint, readRunState } from '../training/checkpoint.js';
import { resolveConfig, type PretrainConfig } from '../training/config.js';
import { loadTrainingData, type TrainingData } from '../training/data.js';
import { Progress } from '../util/progress.js';
import { noGrad, reshape } from '../ops/index.js';
import { CORRUPTIONS, type CorruptionName, type CorruptionTable } from './corruptions.js';
import { extractFeatures, inEvalMode, pixelFeatures, uploadImages, type FeatureKind } from './features.js';
import { LinearProbe, linearEval } from './linear_probe.js';
import { corruptionAccuracy, corruptionMeans, maskingAccuracy, MASK_FRACTIONS } from './robustness.js';
import { pgdAccuracy, PAPER_ATTACKS, type PgdAttack } from './pgd.js';
import { SimilarityAccumulator, type SimilarityResult } from './similarity.js';
import { effectiveReceptiveField } from './erf.js';

export const ANALYSES = ['linear', 'layers', 'corruptions', 'masking', 'pgd', 'similarity', 'erf'] as const;
export type Analysis = typeof ANALYSES[number];

export interface EvalOptions {
  /** Run directory of `coengine pretrain` (its state.json and checkpoint), or null with `arch`. */
  run: string | null;
  /** Evaluate the run's architecture (or `arch`) at random initialisation instead of its weights. */
  randomInit: boolean;
  /** Without a run: the backbone, width, stem and seed to build at random initialisation. */
  arch?: string; width?: number; smallStem?: boolean;
  /** Dataset: 'synthetic' or a prepared directory; default the run's. */
  data?: string;
  analyses: readonly Analysis[];
  /** The representation the robustness analyses probe. */
  feature: FeatureKind;
  /** Images used from each split (train for the probes, test for the measures). */
  trainLimit: number;
  testLimit: number;
  /** Epochs of each linear probe; default the run's final-evaluation epochs (so `linear` repeats its printed figures). */
  probeEpochs?: number;
  corruptions: readonly CorruptionName[];
  corruptionTable: CorruptionTable | 'auto';
  maskFractions: readonly number[];
  attacks: readonly PgdAttack[];
  pgdLimit: number;
  pgdRandomStart: boolean;
  pairs: number;
  erfImages: number;
  /** Seed of the probes, corruptions, masks, attacks and pairs; default the run's. */
  seed?: number;
  /** JSON-lines output file; default <run>/eval.jsonl (./eval.jsonl without a run). */
  out?: string;
  quiet?: boolean;
}

export const EVAL_DEFAULTS: Omit<EvalOptions, 'run' | 'analyses'> = {
  randomInit: false, feature: 'global', trainLimit: 20000, testLimit: 10000, corruptions: CORRUPTIONS,
  corruptionTable: 'auto', maskFractions: MASK_FRACTIONS, attacks: PAPER_ATTACKS, pgdLimit: 1000, pgdRandomStart: true,
  pairs: 20000, erfImages: 16,
};

/** The raw-pixel baseline probe holds every image on the host: small images only (64×64×3). */
const MAX_PIXEL_PROBE_DIM = 64 * 64 * 3;

export type EvalRecord = Record<string, unknown> & { analysis: Analysis | 'setup' };

/** A backbone and the configuration it was trained with (or built from). */
export async function loadEncoder(o: Pick<EvalOptions, 'run' | 'randomInit' | 'arch' | 'width' | 'smallStem' | 'seed'>, backend: Backend):
  Promise<{ backbone: ResNet; cfg: PretrainConfig; source: string }> {
  if (o.run) {
    const file = existsSync(o.run) && statSync(o.run).isFile() ? o.run : null;
    const dir = file ? path.dirname(file) : o.run;
    // A checkpoint file named: that one, with its run's configuration.
    const st = { ...readRunState(dir, 'coengine eval'), ...(file ? { checkpoint: path.basename(file) } : {}) };
    const cfg = resolveConfig([st.config as Partial<PretrainConfig>]);
    manualSeed(cfg.seed);
    if (o.randomInit) return { backbone: createBackbone(cfg.arch, { width: cfg.width, smallStem: cfg.smallStem, backend }), cfg, source: `${cfg.arch} at random initialisation (seed ${cfg.seed})` };
    const method = createMethod(cfg, backend);
    const tensors = new Map([...method.online.stateDict()].map(([k, t]) => [`online.${k}`, t]));
    await loadCheckpoint(dir, st, tensors);
    const step = /checkpoint-(\d+)\.safetensors$/.exec(st.checkpoint)?.[1];
    return { backbone: method.backbone, cfg, source: `${path.join(dir, st.checkpoint)} (${cfg.method} ${cfg.arch}${step ? `, step ${Number(step)}` : ''})` };
  }
  if (!o.arch) throw new Error('coengine eval: give a run directory, or --arch to evaluate a backbone at random initialisation');
  const cfg = resolveConfig([{ arch: o.arch, width: o.width, smallStem: o.smallStem, seed: o.seed }]);
  manualSeed(cfg.seed);
  return { backbone: createBackbone(cfg.arch, { width: cfg.width, smallStem: cfg.smallStem, backend }), cfg, source: `${cfg.arch} at random initialisation (seed ${cfg.seed})` };
}

/** Run the chosen analyses; records go to `emit` as they are measured. */
export async function evaluate(o: EvalOptions, backend: Backend, emit: (r: EvalRecord) => void): Promise<void> {
  const say = (s: string) => { if (!o.quiet) process.stderr.write(s + '\n'); };
  const { backbone, cfg, source } = await loadEncoder(o, backend);
  const data: TrainingData = loadTrainingData({ source: o.data ?? cfg.data, seed: cfg.seed, trainCount: cfg.syntheticTrain, testCount: cfg.syntheticTest });
  const size = cfg.imageSize || data.train.shape[0];
  const view = evalView(size, data.mean, data.std);
  const K = data.classes.length;
  const probeEpochs = o.probeEpochs ?? cfg.finalEvalEpochs;
  const seed = o.seed ?? cfg.seed;
  emit({ analysis: 'setup', encoder: source, data: data.name, classes: K, imageSize: size, feature: o.feature, probeEpochs, seed, train: Math.min(o.trainLimit, data.train.count), test: Math.min(o.testLimit, data.test.count) });
  say(`evaluating ${source} on ${data.name} (${K} classes, ${size} px)`);
  const want = new Set(o.analyses);
  const needsProbe = ['corruptions', 'masking', 'pgd'].some((a) => want.has(a as Analysis));
  // Without a residual MLP the global representation is the pooled one: one probe serves both.
  const own = (k: FeatureKind): FeatureKind => (k === 'global' && !backbone.mlp ? 'pooled' : k);
  const kinds = new Set<FeatureKind>();
  if (want.has('linear')) { kinds.add('pooled'); kinds.add(own('global')); }
  if (want.has('layers')) { kinds.add('layer3'); kinds.add('pooled'); kinds.add(own('global')); }
  if (needsProbe) kinds.add(own(o.feature));
  const probes = new Map<FeatureKind, LinearProbe>();
  if (kinds.size) {
    say(`features of ${Math.min(o.trainLimit, data.train.count)} training and ${Math.min(o.testLimit, data.test.count)} test images…`);
    const tr = await extractFeatures(backbone, data.train, view, backend, { kinds: [...kinds], limit: o.trainLimit });
    const te = await extractFeatures(backbone, data.test, view, backend, { kinds: [...kinds], limit: o.testLimit });
    const acc = new Map<FeatureKind, { trainAcc: number; testAcc: number }>();
    for (const kind of kinds) {
      const probe = LinearProbe.train(backend, tr[kind], K, { epochs: probeEpochs, seed });
      probes.set(kind, probe);
      acc.set(kind, await probe.trainTestAccuracy(tr[kind], te[kind]));
      say(`  linear probe on ${kind} (${tr[kind].dim} dims): test ${(100 * acc.get(kind)!.testAcc).toFixed(1)}%, train ${(100 * acc.get(kind)!.trainAcc).toFixed(1)}%`);
    }
    if (want.has('linear')) for (const kind of ['pooled', 'global'] as const) emit({ analysis: 'linear', feature: kind, dim: tr[own(kind)].dim, ...acc.get(own(kind))! });
    // Table 10's names: layer4 is the pooled local map, final the global representation.
    if (want.has('layers')) for (const [layer, kind] of [['layer3', 'layer3'], ['layer4', 'pooled'], ['final', 'global']] as const) {
      emit({ analysis: 'layers', layer, feature: kind, dim: tr[own(kind)].dim, ...acc.get(own(kind))! });
    }
    const pixelDim = data.train.shape.reduce((a, b) => a * b, 1);
    if (want.has('linear') && pixelDim <= MAX_PIXEL_PROBE_DIM) {
      const acc = await linearEval(backend, pixelFeatures(data.train, o.trainLimit), pixelFeatures(data.test, o.testLimit), K, { epochs: probeEpochs, seed });
      emit({ analysis: 'linear', feature: 'pixels', dim: pixelDim, ...acc });
      say(`  linear probe on raw pixels: test ${(100 * acc.testAcc).toFixed(1)}%`);
    } else if (want.has('linear')) say(`  (no raw-pixel probe: ${pixelDim} values per image; it is made for images up to 64×64×3)`);
  }
  const probe = probes.get(own(o.feature))!;
  const testLimit = Math.min(o.testLimit, data.test.count);
  if (want.has('corruptions')) {
    const bar = new Progress('corruptions', o.corruptions.length * 5, { enabled: !o.quiet, unit: 'sets' });
    const r = await corruptionAccuracy(backbone, probe, o.feature, data.test, view, backend, {
      corruptions: o.corruptions, table: o.corruptionTable === 'auto' ? undefined : o.corruptionTable, limit: testLimit, seed,
      onStep: (d) => bar.update(d),
    });
    bar.finish();
    for (const row of r.rows) emit({ analysis: 'corruptions', feature: o.feature, table: r.table, ...row });
    const means = corruptionMeans(r.rows);
    for (const [corruption, accuracy] of Object.entries(means)) emit({ analysis: 'corruptions', feature: o.feature, table: r.table, corruption, severity: 'mean', accuracy });
    say(`  corruptions (${r.table} constants, mean over severities 1–5): ` + Object.entries(means).map(([k, v]) => `${k} ${(100 * v!).toFixed(1)}%`).join(', '));
  }
  if (want.has('masking')) {
    const rows = await maskingAccuracy(backbone, probe, o.feature, data.test, view, backend, { fractions: o.maskFractions, limit: testLimit, seed });
    for (const row of rows) emit({ analysis: 'masking', feature: o.feature, ...row });
    const m = rows.reduce((a, r) => a + r.accuracy, 0) / rows.length;
    emit({ analysis: 'masking', feature: o.feature, fraction: 'mean', accuracy: m });
    say(`  internal masking (${rows.map((r) => `${Math.round(100 * r.fraction)}%`).join(', ')} of local positions dropped): mean ${(100 * m).toFixed(1)}%`);
  }
  if (want.has('pgd')) {
    const bar = new Progress('PGD', Math.min(o.pgdLimit, data.test.count), { enabled: !o.quiet, unit: 'img' });
    // The same images unattacked first (ε = 0): the accuracy each attack starts from.
    const [clean, ...rows] = await pgdAccuracy(backbone, probe, o.feature, data.test, view, backend, [{ eps: 0, step: 0, iterations: 0 }, ...o.attacks],
      { limit: o.pgdLimit, seed, randomStart: o.pgdRandomStart, onBatch: (d) => bar.update(d) });
    bar.finish();
    for (const row of [clean, ...rows]) emit({ analysis: 'pgd', feature: o.feature, randomStart: o.pgdRandomStart, ...row });
    say(`  PGD L∞ on ${clean.images} images (clean ${(100 * clean.accuracy).toFixed(1)}%): ` +
      rows.map((r) => `ε ${r.eps} γ ${+r.step.toPrecision(3)} ×${r.iterations}: ${(100 * r.accuracy).toFixed(1)}%`).join('; '));
  }
  if (want.has('similarity')) {
    const r = await similarityOf(backbone, data, view, backend, testLimit, { pairs: o.pairs, seed });
    emit({ analysis: 'similarity', ...r });
    say(`  local/global similarity over ${r.pairs} pairs: Pearson r ${r.pearson.toFixed(3)}, intra-image local ${r.intraLocalSim.toFixed(3)}`);
  }
  if (want.has('erf')) {
    const n = Math.min(o.erfImages, data.test.count);
    const images = uploadImages(data.test, n, backend);
    const x = tidy(() => noGrad(() => evalBatch(images, 0, n, view)));
    images.dispose();
    const r = await inEvalMode(backbone, () => effectiveReceptiveField(backbone, x, {})).finally(() => x.dispose());
    emit({ analysis: 'erf', ...r });
    say(`  effective receptive field over ${r.images} images: √#(>5%) ${r.sqrtAbove5.toFixed(1)} px, √#(>32%) ${r.sqrtAbove32.toFixed(1)} px, √#(≠0) ${r.sqrtNonzero.toFixed(1)} px`);
  }
}

/** Local/global similarity of the first n test images, their features reduced batch by batch. */
async function similarityOf(backbone: ResNet, data: TrainingData, view: ReturnType<typeof evalView>, backend: Backend, n: number,
  opts: { pairs: number; seed: number }): Promise<SimilarityResult & { images: number; positions: number }> {
  const images = uploadImages(data.test, n, backend);
  const acc = new SimilarityAccumulator();
  let positions = 0;
  await inEvalMode(backbone, async () => {
    for (let s = 0; s < n; s += 128) {
      const b = Math.min(128, n - s);
      const [g, l] = tidy(() => noGrad(() => {
        const f = backbone.forwardFeatures(evalBatch(images, s, b, view));
        const [, h, w, c] = f.localMap.shape;
        return [f.global, reshape(f.localMap, [b, h * w, c])];
      }));
      positions = l.shape[1];
      acc.add({ global: await g.data() as Float32Array, local: await l.data() as Float32Array, count: b, positions, dim: l.shape[2] });
      g.dispose(); l.dispose();
    }
  }).finally(() => images.dispose());
  return { images: n, positions, ...acc.result(opts) };
}

/**
 * Writes records as JSON lines to a temporary file, renamed over `file` when the evaluation
 * ends: an evaluation that fails part-way leaves the earlier results whole, and what it measured
 * in the temporary file.
 */
export class EvalLog {
  private readonly lines: string[] = [];
  private readonly tmp: string;
  constructor(readonly file: string) { this.tmp = `${file}.tmp-${process.pid}`; }
  write(r: EvalRecord): void {
    if (!this.lines.length) mkdirSync(path.dirname(path.resolve(this.file)), { recursive: true });
    this.lines.push(JSON.stringify({ time: new Date().toISOString(), ...r }));
    writeFileSync(this.tmp, this.lines.join('\n') + '\n');
  }
  close(): void { if (this.lines.length) renameSync(this.tmp, this.file); }
}
