// Reads a prepared dataset: meta.json, whole splits loaded into memory (small data sets), or a
// SplitReader that streams contiguous chunks / gathers arbitrary indices with positional reads
// (data sets larger than memory). Sizes are always checked against meta.json; CRCs on request.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32, crcHex } from './checksum.js';
import { DatasetError, DatasetMeta, META_FILE, imageBytes, splitOrder, validateMeta } from './format.js';
import { crcFile } from './writer.js';

export function readMeta(dir: string): DatasetMeta {
  const file = path.join(dir, META_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new DatasetError(`cannot read ${file}: ${(e as Error).message} (is ${dir} a prepared dataset? see \`coengine data prepare\`)`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new DatasetError(`${file}: invalid JSON: ${(e as Error).message}`);
  }
  return validateMeta(parsed, file);
}

export interface SplitData {
  meta: DatasetMeta;
  split: string;
  count: number;
  shape: [number, number, number];
  /** count×h×w×c bytes, NHWC. */
  images: Uint8Array;
  labels: Int32Array;
}

function splitMeta(meta: DatasetMeta, dir: string, split: string) {
  const s = meta.splits[split];
  if (!s) throw new DatasetError(`${dir}: no split "${split}" (has ${Object.keys(meta.splits).join(', ')})`);
  return s;
}

function checkSize(file: string, actual: number, expected: number, what: string): void {
  if (actual !== expected) {
    throw new DatasetError(`${file} has ${actual} bytes, but meta.json says ${what} = ${expected} (truncated or wrong dataset?)`);
  }
}

/** Loads a whole split into memory. verify: also check the CRC-32s recorded in meta.json. */
export function loadSplit(dir: string, split: string, opts: { verify?: boolean } = {}): SplitData {
  const meta = readMeta(dir);
  const s = splitMeta(meta, dir, split);
  const imgFile = path.join(dir, s.file), lblFile = path.join(dir, s.labelsFile);
  const images = readWhole(imgFile);
  checkSize(imgFile, images.length, s.count * imageBytes(meta.shape), `count×h×w×c = ${s.count}×${meta.shape.join('×')}`);
  const lblBytes = readWhole(lblFile);
  checkSize(lblFile, lblBytes.length, s.count * 4, `count×4 = ${s.count}×4`);
  if (opts.verify) {
    checkCrc(imgFile, crc32(images), s.imagesCrc32);
    checkCrc(lblFile, crc32(lblBytes), s.labelsCrc32);
  }
  return { meta, split, count: s.count, shape: meta.shape, images, labels: decodeLabels(lblBytes) };
}

function readWhole(file: string): Uint8Array {
  try {
    const b = fs.readFileSync(file);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new DatasetError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

function decodeLabels(bytes: Uint8Array): Int32Array {
  const out = new Int32Array(bytes.length / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt32(i * 4, true);
  return out;
}

function checkCrc(file: string, actual: number, expected: string): void {
  if (crcHex(actual) !== expected) {
    throw new DatasetError(`${file}: CRC-32 ${crcHex(actual)} does not match ${expected} recorded in meta.json (corrupted file)`);
  }
}

/** Checks every file's size and CRC-32, and the overall checksum. Throws a DatasetError naming the file. */
export function verifyDataset(dir: string): DatasetMeta {
  const meta = readMeta(dir);
  let total = 0;
  for (const name of splitOrder(meta.splits)) {
    const s = meta.splits[name];
    const imgFile = path.join(dir, s.file), lblFile = path.join(dir, s.labelsFile);
    checkSize(imgFile, fileSize(imgFile), s.count * imageBytes(meta.shape), `count×h×w×c = ${s.count}×${meta.shape.join('×')}`);
    checkSize(lblFile, fileSize(lblFile), s.count * 4, `count×4 = ${s.count}×4`);
    const ci = crcFile(imgFile), cl = crcFile(lblFile);
    checkCrc(imgFile, ci, s.imagesCrc32);
    checkCrc(lblFile, cl, s.labelsCrc32);
    total = crcFile(lblFile, crcFile(imgFile, total));
  }
  if (crcHex(total) !== meta.checksum.value) {
    throw new DatasetError(`${dir}: overall CRC-32 ${crcHex(total)} does not match ${meta.checksum.value} in meta.json`);
  }
  return meta;
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch (e) {
    throw new DatasetError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

/**
 * Streams one split from disk. Labels (4 bytes each) are held in memory; images are read on
 * demand, so a split larger than memory can be iterated in chunks or sampled by index.
 */
export class SplitReader {
  readonly meta: DatasetMeta;
  readonly count: number;
  readonly shape: [number, number, number];
  readonly imageSize: number;
  readonly labels: Int32Array;
  private fd: number | null;
  private readonly file: string;

  constructor(readonly dir: string, readonly split: string) {
    this.meta = readMeta(dir);
    const s = splitMeta(this.meta, dir, split);
    this.count = s.count;
    this.shape = this.meta.shape;
    this.imageSize = imageBytes(this.shape);
    this.file = path.join(dir, s.file);
    checkSize(this.file, fileSize(this.file), s.count * this.imageSize, `count×h×w×c = ${s.count}×${this.shape.join('×')}`);
    const lblFile = path.join(dir, s.labelsFile);
    const lbl = readWhole(lblFile);
    checkSize(lblFile, lbl.length, s.count * 4, `count×4 = ${s.count}×4`);
    this.labels = decodeLabels(lbl);
    this.fd = fs.openSync(this.file, 'r');
  }

  /** Reads images [start, start + n) into `out` (allocated when omitted). */
  read(start: number, n: number, out?: Uint8Array): { images: Uint8Array; labels: Int32Array } {
    if (start < 0 || n < 0 || start + n > this.count) {
      throw new DatasetError(`${this.file}: range [${start}, ${start + n}) outside [0, ${this.count})`);
    }
    const bytes = n * this.imageSize;
    const images = out ? out.subarray(0, bytes) : new Uint8Array(bytes);
    if (images.length < bytes) throw new DatasetError(`output buffer of ${out!.length} bytes is smaller than ${bytes}`);
    this.readAt(images, start * this.imageSize);
    return { images, labels: this.labels.slice(start, start + n) };
  }

  /** Gathers the images at `indices` (any order, repeats allowed), e.g. a shuffled batch. */
  gather(indices: ArrayLike<number>, out?: Uint8Array): { images: Uint8Array; labels: Int32Array } {
    const sz = this.imageSize;
    const images = out ? out.subarray(0, indices.length * sz) : new Uint8Array(indices.length * sz);
    const labels = new Int32Array(indices.length);
    for (let k = 0; k < indices.length; k++) {
      const i = indices[k];
      if (!(i >= 0 && i < this.count)) throw new DatasetError(`${this.file}: index ${i} outside [0, ${this.count})`);
      this.readAt(images.subarray(k * sz, (k + 1) * sz), i * sz);
      labels[k] = this.labels[i];
    }
    return { images, labels };
  }

  /** Iterates the split in order, in chunks of `chunk` images (the last may be shorter). */
  *chunks(chunk: number): Generator<{ start: number; images: Uint8Array; labels: Int32Array }> {
    if (!(chunk > 0)) throw new DatasetError(`chunk size must be positive, got ${chunk}`);
    for (let start = 0; start < this.count; start += chunk) {
      const n = Math.min(chunk, this.count - start);
      yield { start, ...this.read(start, n) };
    }
  }

  close(): void {
    if (this.fd !== null) { fs.closeSync(this.fd); this.fd = null; }
  }

  private readAt(dst: Uint8Array, position: number): void {
    if (this.fd === null) throw new DatasetError(`${this.file}: reader is closed`);
    let off = 0;
    while (off < dst.length) {
      const n = fs.readSync(this.fd, dst, off, dst.length - off, position + off);
      if (n === 0) throw new DatasetError(`${this.file}: unexpected end of file at byte ${position + off}`);
      off += n;
    }
  }
}
