// `coengine data prepare`: converts a source data set into the prepared format. Output goes to a
// temporary directory next to --out and is renamed into place only when complete, so a failure
// or an interrupt never leaves a partial data set at --out.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCifar } from './cifar.js';
import { DatasetError, DatasetMeta, SourceFormat } from './format.js';
import { FASHION_MNIST_CLASSES, findIdxFiles, readIdxPair } from './idx.js';
import { scanImageFolder } from './imagefolder.js';
import { decodeFiles } from './pool.js';
import { resizeSquare } from './resize.js';
import {
  SYNTHETIC_CLASSES, SYNTHETIC_DEFAULT_COUNTS, SYNTHETIC_SHAPE, SyntheticSplit, renderSynthetic,
} from './synthetic.js';
import { DatasetWriter } from './writer.js';
import { Progress } from '../util/progress.js';
import { Rng } from '../runtime/rng.js';

export interface PrepareOptions {
  format: SourceFormat;
  /** Source path (unused for synthetic). */
  src?: string;
  out: string;
  /** Output side length; required for imagefolder, optional resize for idx/cifar. */
  size?: number;
  name?: string;
  /** Decoding threads for imagefolder (default: CPU count). */
  workers?: number;
  /** Seed of the synthetic images, and of the subsets --train/--test pick from other formats. */
  seed?: number;
  /** synthetic: image counts; other formats: keep a seeded random subset of this many. */
  train?: number;
  test?: number;
  /** Replace an existing --out. */
  force?: boolean;
  /** Show progress on stderr (default true). */
  progress?: boolean;
}

export async function prepareDataset(opts: PrepareOptions): Promise<DatasetMeta> {
  const out = path.resolve(opts.out);
  checkOut(out, opts.force ?? false);
  const parent = path.dirname(out);
  try {
    fs.mkdirSync(parent, { recursive: true });
  } catch (e) {
    throw new DatasetError(`cannot create ${parent}: ${(e as Error).message}`);
  }
  let tmp: string;
  try {
    tmp = fs.mkdtempSync(path.join(parent, `.${path.basename(out)}.tmp-`));
  } catch (e) {
    throw new DatasetError(`cannot create a temporary directory in ${parent}: ${(e as Error).message}`);
  }
  const cleanup = () => fs.rmSync(tmp, { recursive: true, force: true });
  const onSignal = (sig: NodeJS.Signals) => { cleanup(); process.exit(sig === 'SIGINT' ? 130 : 143); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', cleanup); // uncaught exceptions / process.exit elsewhere while we run
  const writer = new DatasetWriter(tmp);
  try {
    const meta = await fill(writer, opts);
    fs.chmodSync(tmp, 0o777 & ~process.umask()); // mkdtemp makes it private; give it normal permissions
    if (fs.existsSync(out)) {
      // --force (checked above): move the old data set aside, then drop it once the new one is in place.
      const old = `${tmp}.old`;
      fs.renameSync(out, old);
      fs.renameSync(tmp, out);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(tmp, out);
    }
    return meta;
  } catch (e) {
    writer.abort();
    cleanup();
    throw e;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('exit', cleanup);
  }
}

function checkOut(out: string, force: boolean): void {
  let st: fs.Stats;
  try { st = fs.statSync(out); } catch { return; }
  if (!st.isDirectory()) throw new DatasetError(`--out ${out} exists and is not a directory`);
  if (fs.readdirSync(out).length > 0 && !force) {
    throw new DatasetError(`--out ${out} already exists and is not empty (pass --force to replace it)`);
  }
}

async function fill(writer: DatasetWriter, opts: PrepareOptions): Promise<DatasetMeta> {
  const show = opts.progress ?? true;
  const needSrc = (): string => {
    if (!opts.src) throw new DatasetError(`--format ${opts.format} needs a SRC path`);
    return path.resolve(opts.src);
  };
  switch (opts.format) {
    case 'idx': return prepareIdx(writer, needSrc(), opts, show);
    case 'cifar': return prepareCifar(writer, needSrc(), opts, show);
    case 'imagefolder': return prepareImageFolder(writer, needSrc(), opts, show);
    case 'synthetic': return prepareSynthetic(writer, opts, show);
    default: throw new DatasetError(`unknown format ${JSON.stringify(opts.format)} (idx, cifar, imagefolder, synthetic)`);
  }
}

/** Writes in-memory images, resizing each to size×size when asked. */
function writeArrays(
  writer: DatasetWriter, split: string, images: Uint8Array, labels: Int32Array, h: number, w: number, c: number,
  size: number | undefined, show: boolean,
): [number, number, number] {
  const n = labels.length;
  const shape: [number, number, number] = size ? [size, size, c] : [h, w, c];
  const sw = writer.split(split, n, shape);
  sw.writeLabels(0, labels);
  if (!size || (size === h && size === w)) {
    sw.writeImages(0, images);
    return shape;
  }
  const bar = new Progress(`resize ${split}`, n, { enabled: show, unit: 'img' });
  const per = h * w * c, CH = 1024;
  for (let s = 0; s < n; s += CH) {
    const m = Math.min(CH, n - s);
    const block = new Uint8Array(m * size * size * c);
    for (let i = 0; i < m; i++) {
      block.set(resizeSquare(images.subarray((s + i) * per, (s + i + 1) * per), w, h, c, size), i * size * size * c);
    }
    sw.writeImages(s, block);
    bar.update(s + m);
  }
  bar.finish();
  return shape;
}

/**
 * Indices of a seeded random subset of n of N items, in source order; null keeps all (n absent
 * or ≥ N). Each split draws from its own stream, so --train does not change the test subset.
 */
function pickSubset(N: number, n: number | undefined, seed: number, split: string): Int32Array | null {
  if (n === undefined || n >= N) return null;
  const idx = Int32Array.from({ length: N }, (_, i) => i);
  new Rng((seed * 2 + (split === 'train' ? 0 : 1)) >>> 0).shuffle(idx);
  return idx.slice(0, n).sort();
}

/** The chosen images and labels of an in-memory split (all of them when idx is null). */
function takeSubset(images: Uint8Array, labels: Int32Array, per: number, idx: Int32Array | null): { images: Uint8Array; labels: Int32Array } {
  if (!idx) return { images, labels };
  const out = new Uint8Array(idx.length * per);
  idx.forEach((j, i) => out.set(images.subarray(j * per, (j + 1) * per), i * per));
  return { images: out, labels: Int32Array.from(idx, (j) => labels[j]) };
}

/** What meta.json records about a subset (nothing when the whole source was kept). */
function subsetNote(opts: PrepareOptions, counts: { train: number; test: number }): Record<string, unknown> {
  const kept = (k: 'train' | 'test') => (opts[k] !== undefined && opts[k]! < counts[k] ? opts[k] : undefined);
  if (kept('train') === undefined && kept('test') === undefined) return {};
  return { subset: { seed: opts.seed ?? 0, ...(kept('train') ? { train: `${kept('train')} of ${counts.train}` } : {}), ...(kept('test') ? { test: `${kept('test')} of ${counts.test}` } : {}) } };
}

/** writeArrays over the seeded subset --train/--test asks for. */
function writeSplit(writer: DatasetWriter, split: 'train' | 'test', set: { images: Uint8Array; labels: Int32Array }, h: number, w: number, c: number,
  opts: PrepareOptions, show: boolean): void {
  const s = takeSubset(set.images, set.labels, h * w * c, pickSubset(set.labels.length, opts[split], opts.seed ?? 0, split));
  writeArrays(writer, split, s.images, s.labels, h, w, c, opts.size, show);
}

function prepareIdx(writer: DatasetWriter, src: string, opts: PrepareOptions, show: boolean): DatasetMeta {
  const files = findIdxFiles(src);
  const train = readIdxPair(files.trainImages, files.trainLabels);
  const test = readIdxPair(files.testImages, files.testLabels);
  if (train.h !== test.h || train.w !== test.w) {
    throw new DatasetError(`${files.testImages}: images are ${test.h}×${test.w} but train images are ${train.h}×${train.w}`);
  }
  let maxLabel = 0;
  for (const l of [train.labels, test.labels]) for (const v of l) if (v > maxLabel) maxLabel = v;
  const name = opts.name ?? path.basename(src);
  const fashion = /fashion/i.test(name) || /fashion/i.test(src);
  const classes = fashion && maxLabel < 10 ? FASHION_MNIST_CLASSES : Array.from({ length: maxLabel + 1 }, (_, i) => String(i));
  writeSplit(writer, 'train', train, train.h, train.w, 1, opts, show);
  writeSplit(writer, 'test', test, test.h, test.w, 1, opts, show);
  return writer.finish({
    name, classes,
    source: {
      format: 'idx', path: src, files: Object.values(files).map((f) => path.basename(f)), originalShape: [train.h, train.w, 1],
      ...subsetNote(opts, { train: train.labels.length, test: test.labels.length }),
    },
  });
}

function prepareCifar(writer: DatasetWriter, src: string, opts: PrepareOptions, show: boolean): DatasetMeta {
  const data = readCifar(src);
  writeSplit(writer, 'train', data.train, 32, 32, 3, opts, show);
  writeSplit(writer, 'test', data.test, 32, 32, 3, opts, show);
  return writer.finish({
    name: opts.name ?? data.variant,
    classes: data.classes,
    source: {
      format: 'cifar', path: src, variant: data.variant, labels: data.variant === 'cifar100' ? 'fine' : 'label', originalShape: [32, 32, 3],
      ...subsetNote(opts, { train: data.train.labels.length, test: data.test.labels.length }),
    },
  });
}

async function prepareImageFolder(writer: DatasetWriter, src: string, opts: PrepareOptions, show: boolean): Promise<DatasetMeta> {
  const size = opts.size;
  if (!size) throw new DatasetError('--size is required for --format imagefolder (e.g. 64 for Tiny-ImageNet, 128 or 224 for ImageNet-100)');
  const scan = scanImageFolder(src);
  const workers = Math.max(1, opts.workers ?? os.availableParallelism?.() ?? os.cpus().length);
  const counts = { train: scan.train.files.length, test: scan.test.files.length };
  for (const [split, all] of [['train', scan.train], ['test', scan.test]] as const) {
    const idx = pickSubset(all.files.length, opts[split], opts.seed ?? 0, split);
    const set = idx ? { files: Array.from(idx, (j) => all.files[j]), labels: Int32Array.from(idx, (j) => all.labels[j]) } : all;
    const sw = writer.split(split, set.files.length, [size, size, 3]);
    sw.writeLabels(0, set.labels);
    const bar = new Progress(`decode ${split}`, set.files.length, { enabled: show, unit: 'img' });
    let done = 0;
    await decodeFiles(set.files, {
      size, workers,
      onBatch: (start, data) => { sw.writeImages(start, data); done += data.length / (size * size * 3); bar.update(done); },
    });
    bar.finish();
  }
  return writer.finish({
    name: opts.name ?? path.basename(src),
    classes: scan.classes,
    source: {
      format: 'imagefolder', path: src, layout: scan.layout, resize: `centre square crop, area (down) / bilinear (up) to ${size}×${size}`,
      ...subsetNote(opts, counts),
    },
  });
}

async function prepareSynthetic(writer: DatasetWriter, opts: PrepareOptions, show: boolean): Promise<DatasetMeta> {
  const seed = opts.seed ?? 0;
  const counts = { train: opts.train ?? SYNTHETIC_DEFAULT_COUNTS.train, test: opts.test ?? SYNTHETIC_DEFAULT_COUNTS.test };
  if (opts.size && opts.size !== SYNTHETIC_SHAPE[0]) throw new DatasetError(`the synthetic data set is ${SYNTHETIC_SHAPE[0]}×${SYNTHETIC_SHAPE[1]}; --size ${opts.size} is not supported`);
  const per = SYNTHETIC_SHAPE[0] * SYNTHETIC_SHAPE[1] * SYNTHETIC_SHAPE[2];
  for (const split of ['train', 'test'] as SyntheticSplit[]) {
    const n = counts[split];
    if (!Number.isInteger(n) || n < 1) throw new DatasetError(`--${split} must be a positive integer, got ${n}`);
    const sw = writer.split(split, n, [...SYNTHETIC_SHAPE]);
    const bar = new Progress(`render ${split}`, n, { enabled: show, unit: 'img' });
    const CH = 1000;
    for (let s = 0; s < n; s += CH) {
      const m = Math.min(CH, n - s);
      const images = new Uint8Array(m * per), labels = new Int32Array(m);
      for (let i = 0; i < m; i++) labels[i] = renderSynthetic(seed, split, s + i, images, i * per);
      sw.writeImages(s, images);
      sw.writeLabels(s, labels);
      bar.update(s + m);
      await new Promise((r) => setImmediate(r));
    }
    bar.finish();
  }
  return writer.finish({
    name: opts.name ?? 'synthetic-parts',
    classes: [...SYNTHETIC_CLASSES],
    source: { format: 'synthetic', generator: 'coengine synthetic-parts v1', seed },
  });
}
