// Pretraining configuration: defaults, the paper's named presets, a JSON config file, and
// command-line flags, merged in that order and validated with messages that name the field.
import { readFileSync } from 'node:fs';
import { METHOD_NAMES, type MethodName } from '../methods/method.js';
import { presetNames } from '../models/presets.js';
import type { OptimizerKind } from '../backend/backend.js';

export interface PretrainConfig {
  method: MethodName;
  arch: string;
  /** Channel multiplier of the backbone. */
  width: number;
  /** 3×3 stride-1 stem without max-pool (small images). */
  smallStem: boolean;
  /** 'synthetic' (built in) or a prepared dataset directory. */
  data: string;
  /** Synthetic dataset sizes. */
  syntheticTrain: number;
  syntheticTest: number;
  epochs: number;
  batchSize: number;
  /** Base learning rate before scaling by batch/256 (0: the method's, SPEC §5). */
  lr: number;
  weightDecay: number;
  optimizer: OptimizerKind;
  /** LARS η. */
  eta: number;
  warmupEpochs: number;
  /** Local loss weight w_s. */
  ws: number;
  /** Pool the local map to n×n positions before the local heads (0 = all positions). */
  localGrid: number;
  /** RandomResizedCrop minimum scale (CO-SSL 0.2, baselines 0.08). */
  cropMin: number;
  /** Image size of the global views (default: the dataset's). */
  imageSize: number;
  /** Multi-crop: number and size of small views (SSL-mc). */
  smallCrops: number;
  smallSize: number;
  projHidden: number;
  projOut: number;
  predHidden: number;
  projLayers: number;
  /** Base EMA momentum (0: the method's: 0.99 BYOL/MoCoV3, 0.9995 DINO). */
  tauBase: number;
  /** Online linear probe learning rate (0: the method's: 0.1, MoCoV3 0.3). */
  probeLr: number;
  /** DINO. */
  dinoPrototypes: number;
  dinoStudentTemp: number;
  dinoTeacherTemp: [number, number];
  dinoWarmupTeacherEpochs: number;
  /** MoCoV3. */
  mocoTemperature: number;
  seed: number;
  device: 'auto' | 'webgpu' | 'cpu';
  out: string;
  /** Checkpoint every N steps (and at each epoch end). */
  checkpointEvery: number;
  logEvery: number;
  /** Offline linear evaluation at the end (trained vs random init vs raw pixels). */
  finalEval: boolean;
  finalEvalEpochs: number;
  /**
   * Replay each step's recorded GPU commands once two steps in a row recorded the same
   * (training/step_replay.ts): the same results, a fraction of the host time. Off: record every step.
   */
  stepReplay: boolean;
  /**
   * Before training, tune the step's GEMM tiles on this GPU (gemm_tuner.ts) and keep the table in
   * the run directory (gemm-tuning.json), which a resumed run reuses.
   */
  tuneGemm: boolean;
}

export const DEFAULTS: PretrainConfig = {
  method: 'co-byol', arch: 'rf29-resnet18', width: 0.25, smallStem: true,
  data: 'synthetic', syntheticTrain: 10000, syntheticTest: 2000,
  epochs: 20, batchSize: 128, lr: 0, weightDecay: 1e-5, optimizer: 'lars', eta: 0.02, warmupEpochs: 2,
  ws: 0.5, localGrid: 0, cropMin: 0.2, imageSize: 0, smallCrops: 0, smallSize: 0,
  projHidden: 512, projOut: 128, predHidden: 512, projLayers: 1, tauBase: 0, probeLr: 0,
  dinoPrototypes: 4096, dinoStudentTemp: 0.1, dinoTeacherTemp: [0.04, 0.07], dinoWarmupTeacherEpochs: 10,
  mocoTemperature: 0.2,
  seed: 0, device: 'auto', out: 'runs/default', checkpointEvery: 200, logEvery: 10, finalEval: true, finalEvalEpochs: 30,
  stepReplay: true, tuneGemm: false,
};

/** The paper's settings (SPEC §5, solo-learn). Heads are full size here; small defaults above. */
export const PRESETS: Record<string, Partial<PretrainConfig>> = {
  'imagenet100': {
    arch: 'rf99-resnet50', width: 1, smallStem: false, imageSize: 224, epochs: 400, batchSize: 256, weightDecay: 1e-5,
    eta: 0.02, warmupEpochs: 10, projHidden: 4096, projOut: 256, predHidden: 4096, tauBase: 0.99, probeLr: 0.1, ws: 0.5, cropMin: 0.2,
  },
  'tiny-imagenet': {
    arch: 'rf29-resnet18', width: 1, smallStem: true, imageSize: 64, epochs: 400, batchSize: 256, weightDecay: 1e-5,
    warmupEpochs: 10, projHidden: 4096, projOut: 256, predHidden: 4096, tauBase: 0.99, ws: 0.5, cropMin: 0.2,
  },
  'cifar': {
    arch: 'rf29-resnet18', width: 1, smallStem: true, imageSize: 32, epochs: 1000, batchSize: 256, weightDecay: 1e-5,
    warmupEpochs: 10, projHidden: 4096, projOut: 256, predHidden: 4096, tauBase: 0.99, ws: 0.5, cropMin: 0.2,
  },
  'imagenet1k-100ep': {
    arch: 'rf99-resnet50', width: 1, smallStem: false, imageSize: 224, epochs: 100, batchSize: 512, weightDecay: 1e-6,
    eta: 0.001, warmupEpochs: 10, projHidden: 4096, projOut: 256, predHidden: 4096, projLayers: 2, tauBase: 0.99, ws: 0.2,
    dinoPrototypes: 65536, cropMin: 0.2,
  },
};

export function resolveConfig(layers: Partial<PretrainConfig>[]): PretrainConfig {
  const c = Object.assign({}, DEFAULTS, ...layers.map((l) => stripUndefined(l))) as PretrainConfig;
  validate(c);
  const family = c.method.includes('dino') ? 'dino' : c.method.includes('moco') ? 'moco' : 'byol';
  // SPEC §5: BYOL 0.5 on ImageNet-sized images, 1.0 on small ones; MoCoV3 and DINO 0.3.
  if (c.lr === 0) c.lr = family === 'byol' ? (c.imageSize >= 224 ? 0.5 : 1.0) : 0.3;
  if (c.tauBase === 0) c.tauBase = family === 'dino' ? 0.9995 : 0.99;
  if (c.probeLr === 0) c.probeLr = family === 'moco' ? 0.3 : 0.1;
  return c;
}

export function loadConfigFile(file: string): Partial<PretrainConfig> {
  let parsed: unknown;
  try { parsed = JSON.parse(readFileSync(file, 'utf8')); } catch (e) {
    throw new Error(`--config ${file}: ${(e as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`--config ${file}: expected a JSON object`);
  const unknown = Object.keys(parsed).filter((k) => !(k in DEFAULTS) && k !== 'preset');
  if (unknown.length) throw new Error(`--config ${file}: unknown field(s) ${unknown.join(', ')}; known: ${Object.keys(DEFAULTS).join(', ')}`);
  return parsed as Partial<PretrainConfig>;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function validate(c: PretrainConfig): void {
  const bad = (field: string, why: string) => { throw new Error(`invalid ${field}: ${why}`); };
  if (!METHOD_NAMES.includes(c.method)) bad('method', `'${c.method}'; choose one of ${METHOD_NAMES.join(', ')}`);
  if (!presetNames().includes(c.arch)) bad('arch', `'${c.arch}'; choose one of ${presetNames().join(', ')}`);
  const positiveInt: (keyof PretrainConfig)[] = ['epochs', 'batchSize', 'projHidden', 'projOut', 'predHidden', 'projLayers', 'logEvery', 'checkpointEvery'];
  for (const k of positiveInt) if (!Number.isInteger(c[k]) || (c[k] as number) < 1) bad(k, `${c[k]} (a positive integer)`);
  if (c.batchSize < 2) bad('batchSize', 'batch norm needs at least 2 images');
  for (const k of ['width', 'eta'] as const) if (!(c[k] > 0)) bad(k, `${c[k]} (must be > 0)`);
  for (const k of ['lr', 'probeLr', 'weightDecay', 'ws', 'warmupEpochs'] as const) if (!(c[k] >= 0)) bad(k, `${c[k]} (must be ≥ 0; 0 for lr/probeLr = the method's)`);
  if (!(c.cropMin > 0 && c.cropMin <= 1)) bad('cropMin', `${c.cropMin} (must be in (0, 1])`);
  if (!(c.tauBase >= 0 && c.tauBase < 1)) bad('tauBase', `${c.tauBase} (must be in [0, 1); 0 = the method's)`);
  if (!Number.isInteger(c.localGrid) || c.localGrid < 0) bad('localGrid', `${c.localGrid} (0 = all positions, else n for n×n)`);
  for (const k of ['imageSize', 'smallSize'] as const) if (!Number.isInteger(c[k]) || c[k] < 0) bad(k, `${c[k]} (pixels; 0 = the default)`);
  for (const k of ['smallCrops', 'seed', 'finalEvalEpochs'] as const) if (!Number.isInteger(c[k]) || c[k] < 0) bad(k, `${c[k]} (a non-negative integer)`);
  if (!['auto', 'webgpu', 'cpu'].includes(c.device)) bad('device', `'${c.device}' (auto, webgpu or cpu)`);
  for (const k of ['smallStem', 'finalEval', 'stepReplay', 'tuneGemm'] as const) if (typeof c[k] !== 'boolean') bad(k, `${JSON.stringify(c[k])} (true or false)`);
  if (!['sgd', 'lars', 'adamw'].includes(c.optimizer)) bad('optimizer', `'${c.optimizer}' (sgd, lars or adamw)`);
  if (c.method.endsWith('-mc') && c.smallCrops < 1) c.smallCrops = c.imageSize && c.imageSize <= 64 ? 6 : 4;
}
