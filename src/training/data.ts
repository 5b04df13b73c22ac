// The images a run trains and evaluates on: a prepared dataset directory or the built-in
// synthetic scenes (generated in memory, deterministic by seed, no download).
import { loadSplit, readMeta } from '../data/reader.js';
import { generateSynthetic, SYNTHETIC_CLASSES } from '../data/synthetic.js';

export interface ImageSet {
  /** count×h×w×c bytes, NHWC. */
  images: Uint8Array;
  labels: Int32Array;
  count: number;
  shape: [number, number, number];
}

export interface TrainingData {
  name: string;
  classes: string[];
  train: ImageSet;
  test: ImageSet;
  /** Per-channel mean/std in [0, 1] units (3 entries; grayscale sources are expanded). */
  mean: number[];
  std: number[];
}

export interface DataSpec {
  /** 'synthetic' or a prepared dataset directory. */
  source: string;
  seed: number;
  /** Synthetic only: image counts. */
  trainCount?: number;
  testCount?: number;
}

/** Per-channel statistics for RGB: a grayscale source's one value broadcast to three. */
export const expand3 = (v: number[]): number[] => (v.length === 1 ? [v[0], v[0], v[0]] : v);

export function loadTrainingData(spec: DataSpec): TrainingData {
  if (spec.source === 'synthetic') {
    const tr = generateSynthetic({ seed: spec.seed, split: 'train', count: spec.trainCount ?? 10000 });
    const te = generateSynthetic({ seed: spec.seed, split: 'test', count: spec.testCount ?? 2000 });
    const stats = channelStats(tr.images, 3);
    return {
      name: 'synthetic', classes: [...SYNTHETIC_CLASSES],
      train: { images: tr.images, labels: tr.labels, count: tr.labels.length, shape: tr.shape },
      test: { images: te.images, labels: te.labels, count: te.labels.length, shape: te.shape },
      mean: stats.mean, std: stats.std,
    };
  }
  const meta = readMeta(spec.source);
  const split = (name: string): ImageSet => {
    const s = loadSplit(spec.source, name);
    return { images: s.images, labels: s.labels, count: s.count, shape: s.shape };
  };
  const testName = meta.splits.test ? 'test' : Object.keys(meta.splits).find((k) => k !== 'train');
  if (!meta.splits.train || !testName) {
    throw new Error(`${spec.source}: a prepared dataset needs a train and a test split (has ${Object.keys(meta.splits).join(', ')})`);
  }
  return { name: meta.name, classes: meta.classes, train: split('train'), test: split(testName), mean: expand3(meta.mean), std: expand3(meta.std) };
}

function channelStats(images: Uint8Array, c: number): { mean: number[]; std: number[] } {
  const s = new Float64Array(c), s2 = new Float64Array(c);
  for (let i = 0; i < images.length; i++) { const v = images[i] / 255; s[i % c] += v; s2[i % c] += v * v; }
  const n = images.length / c;
  const mean = [...s].map((v) => v / n);
  return { mean, std: [...s2].map((v, k) => Math.sqrt(Math.max(v / n - mean[k] ** 2, 1e-12))) };
}
