// Writes a prepared dataset into a directory (normally a temporary one that prepare.ts renames
// into place at the end). Images may arrive out of order (worker pools), so writes are positional
// and the per-channel statistics are exact integer sums, which makes mean/std independent of
// arrival order and the output byte-for-byte reproducible.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32, crcHex } from './checksum.js';
import {
  DatasetError, DatasetMeta, FORMAT_ID, FORMAT_VERSION, META_FILE, SplitMeta, imageBytes, splitFileNames, splitOrder,
} from './format.js';

export class SplitWriter {
  readonly imageSize: number;
  private readonly fdImages: number;
  private readonly fdLabels: number;
  private imagesWritten = 0;
  private labelsWritten = 0;
  private closed = false;
  /** Exact per-channel sums of pixel values and their squares (0..255 units). */
  readonly sum: number[];
  readonly sumSq: number[];

  constructor(readonly dir: string, readonly name: string, readonly count: number, readonly shape: [number, number, number]) {
    this.imageSize = imageBytes(shape);
    const { file, labelsFile } = splitFileNames(name);
    this.fdImages = fs.openSync(path.join(dir, file), 'w');
    this.fdLabels = fs.openSync(path.join(dir, labelsFile), 'w');
    this.sum = new Array(shape[2]).fill(0);
    this.sumSq = new Array(shape[2]).fill(0);
  }

  /** Writes images [start, start + n) given as n×h×w×c bytes, and accumulates their statistics. */
  writeImages(start: number, images: Uint8Array): void {
    if (images.length % this.imageSize !== 0) {
      throw new DatasetError(`${this.name}: image block of ${images.length} bytes is not a multiple of h×w×c = ${this.imageSize}`);
    }
    const n = images.length / this.imageSize;
    if (start < 0 || start + n > this.count) {
      throw new DatasetError(`${this.name}: images [${start}, ${start + n}) out of range for ${this.count} images`);
    }
    writeAll(this.fdImages, images, start * this.imageSize);
    this.imagesWritten += n;
    accumulateStats(images, this.shape[2], this.sum, this.sumSq);
  }

  writeLabels(start: number, labels: Int32Array): void {
    if (start < 0 || start + labels.length > this.count) {
      throw new DatasetError(`${this.name}: labels [${start}, ${start + labels.length}) out of range for ${this.count} images`);
    }
    const bytes = new Uint8Array(labels.length * 4);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < labels.length; i++) view.setInt32(i * 4, labels[i], true);
    writeAll(this.fdLabels, bytes, start * 4);
    this.labelsWritten += labels.length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fdImages);
    fs.closeSync(this.fdLabels);
  }

  checkComplete(): void {
    if (this.imagesWritten !== this.count || this.labelsWritten !== this.count) {
      throw new DatasetError(`${this.name}: wrote ${this.imagesWritten} images and ${this.labelsWritten} labels, expected ${this.count}`);
    }
  }
}

export interface FinishInfo {
  name: string;
  classes: string[];
  source: DatasetMeta['source'];
}

export class DatasetWriter {
  private readonly splits = new Map<string, SplitWriter>();
  private shape: [number, number, number] | null = null;

  constructor(readonly dir: string) {}

  split(name: string, count: number, shape: [number, number, number]): SplitWriter {
    if (this.splits.has(name)) throw new DatasetError(`split "${name}" opened twice`);
    if (this.shape && this.shape.join() !== shape.join()) {
      throw new DatasetError(`split "${name}" has shape [${shape}] but an earlier split has [${this.shape}]`);
    }
    this.shape = shape;
    const w = new SplitWriter(this.dir, name, count, shape);
    this.splits.set(name, w);
    return w;
  }

  /** Closes all files, checks labels, computes checksums and statistics, writes meta.json. */
  finish(info: FinishInfo): DatasetMeta {
    for (const w of this.splits.values()) w.close();
    for (const w of this.splits.values()) w.checkComplete();
    const train = this.splits.get('train');
    if (!train || !this.splits.has('test')) throw new DatasetError('a dataset needs both a train and a test split');
    const shape = this.shape!;
    const splits: Record<string, SplitMeta> = {};
    let total = 0;
    const order = splitOrder(Object.fromEntries(this.splits));
    for (const name of order) {
      const w = this.splits.get(name)!;
      const { file, labelsFile } = splitFileNames(name);
      const imagesCrc = crcFile(path.join(this.dir, file));
      checkLabels(path.join(this.dir, labelsFile), info.classes.length);
      const labelsCrc = crcFile(path.join(this.dir, labelsFile));
      splits[name] = { count: w.count, file, labelsFile, imagesCrc32: crcHex(imagesCrc), labelsCrc32: crcHex(labelsCrc) };
      total = crcFile(path.join(this.dir, file), total);
      total = crcFile(path.join(this.dir, labelsFile), total);
    }
    const n = train.count * shape[0] * shape[1];
    const mean = train.sum.map((s) => (n > 0 ? s / n / 255 : 0));
    const std = train.sumSq.map((sq, c) => {
      if (n === 0) return 0;
      const m = train.sum[c] / n;
      return Math.sqrt(Math.max(0, sq / n - m * m)) / 255;
    });
    const meta: DatasetMeta = {
      format: FORMAT_ID,
      version: FORMAT_VERSION,
      name: info.name,
      classes: info.classes,
      shape,
      layout: 'NHWC',
      dtype: 'uint8',
      labelDtype: 'int32le',
      splits: splits as DatasetMeta['splits'],
      mean: mean.map(round6),
      std: std.map(round6),
      checksum: { algorithm: 'crc32', value: crcHex(total) },
      source: info.source,
    };
    fs.writeFileSync(path.join(this.dir, META_FILE), JSON.stringify(meta, null, 2) + '\n');
    return meta;
  }

  /** Closes open files without finishing (used on errors before the directory is removed). */
  abort(): void {
    for (const w of this.splits.values()) {
      try { w.close(); } catch { /* already failing; the directory is removed next */ }
    }
  }
}

function round6(x: number): number { return Math.round(x * 1e6) / 1e6; }

export function accumulateStats(images: Uint8Array, channels: number, sum: number[], sumSq: number[]): void {
  // Chunked so the per-chunk integer sums stay far below 2^53.
  const CHUNK = channels * (1 << 20);
  for (let base = 0; base < images.length; base += CHUNK) {
    const end = Math.min(images.length, base + CHUNK);
    for (let c = 0; c < channels; c++) {
      let s = 0, sq = 0;
      for (let i = base + c; i < end; i += channels) { const v = images[i]; s += v; sq += v * v; }
      sum[c] += s;
      sumSq[c] += sq;
    }
  }
}

function writeAll(fd: number, data: Uint8Array, position: number): void {
  let off = 0;
  while (off < data.length) {
    off += fs.writeSync(fd, data, off, data.length - off, position + off);
  }
}

/** CRC-32 of a whole file, read in 4 MiB chunks, continuing from `crc`. */
export function crcFile(file: string, crc = 0): number {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = new Uint8Array(4 << 20);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      crc = crc32(n === buf.length ? buf : buf.subarray(0, n), crc);
    }
    return crc;
  } finally {
    fs.closeSync(fd);
  }
}

function checkLabels(file: string, numClasses: number): void {
  const bytes = fs.readFileSync(file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < bytes.length; i += 4) {
    const l = view.getInt32(i, true);
    if (l < 0 || l >= numClasses) {
      throw new DatasetError(`${path.basename(file)}: label ${l} at index ${i / 4} is outside [0, ${numClasses})`);
    }
  }
}
