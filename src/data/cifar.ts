// CIFAR-10 / CIFAR-100 "binary version" archives. Records are
//   CIFAR-10:  <label u8> <3072 bytes: 1024 R, 1024 G, 1024 B, row-major 32×32>
//   CIFAR-100: <coarse u8> <fine u8> <3072 bytes>   (we use the fine labels)
// SRC may be the .tar.gz, a .tar, or a directory holding the archive or the extracted .bin files.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DatasetError } from './format.js';
import { gunzipNamed, isGzip, readFileBytes } from './gzip.js';
import { tarEntries } from './tar.js';

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
const PIXELS = 32 * 32;

export interface CifarSplit { images: Uint8Array; labels: Int32Array }
export interface CifarData { variant: 'cifar10' | 'cifar100'; classes: string[]; train: CifarSplit; test: CifarSplit; origin: string }

/** A source of named files: an archive's entries or a directory tree. */
interface FileSet { origin: string; get(base: string): { name: string; data: Uint8Array } | undefined }

function fromArchive(file: string): FileSet {
  let bytes = readFileBytes(file);
  if (isGzip(bytes)) bytes = gunzipNamed(bytes, file);
  else if (/\.(tgz|gz)$/i.test(file)) throw new DatasetError(`${file}: name ends in .gz but the file is not gzip data (bad magic number)`);
  const files = new Map<string, { name: string; data: Uint8Array }>();
  for (const e of tarEntries(bytes, file)) {
    if (e.type === 'file') files.set(path.posix.basename(e.name), { name: `${file}:${e.name}`, data: e.data });
  }
  return { origin: file, get: (b) => files.get(b) };
}

function fromDirectory(dir: string): FileSet {
  // Look in dir and one level down (cifar-10-batches-bin/, cifar-100-binary/).
  const files = new Map<string, string>();
  const scan = (d: string, depth: number) => {
    for (const ent of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, ent.name);
      if (ent.isFile() && !files.has(ent.name)) files.set(ent.name, p);
      else if (ent.isDirectory() && depth > 0) scan(p, depth - 1);
    }
  };
  scan(dir, 1);
  return { origin: dir, get: (b) => { const p = files.get(b); return p ? { name: p, data: readFileBytes(p) } : undefined; } };
}

function openSource(src: string): FileSet {
  let st: fs.Stats;
  try { st = fs.statSync(src); } catch (e) { throw new DatasetError(`cannot read CIFAR source ${src}: ${(e as Error).message}`); }
  if (st.isFile()) return fromArchive(src);
  const archives = fs.readdirSync(src).filter((n) => /^cifar-1(0|00)-binary\.tar(\.gz)?$|^cifar.*\.(tar\.gz|tgz|tar)$/i.test(n)).sort();
  const hasBins = fs.readdirSync(src, { recursive: true }).some((n) => /(data_batch_1|train)\.bin$/.test(String(n)));
  if (!hasBins && archives.length === 1) return fromArchive(path.join(src, archives[0]));
  if (!hasBins && archives.length > 1) throw new DatasetError(`${src}: several CIFAR archives (${archives.join(', ')}); pass one file as SRC`);
  return fromDirectory(src);
}

function decodeRecords(file: { name: string; data: Uint8Array }, labelBytes: 1 | 2): CifarSplit {
  const rec = labelBytes + 3 * PIXELS;
  if (file.data.length === 0 || file.data.length % rec !== 0) {
    throw new DatasetError(`${file.name}: size ${file.data.length} bytes is not a positive multiple of the ${rec}-byte CIFAR record (truncated or wrong file)`);
  }
  const n = file.data.length / rec;
  const images = new Uint8Array(n * 3 * PIXELS);
  const labels = new Int32Array(n);
  const d = file.data;
  for (let i = 0; i < n; i++) {
    const base = i * rec;
    labels[i] = d[base + labelBytes - 1];
    const px = base + labelBytes, out = i * 3 * PIXELS;
    for (let p = 0; p < PIXELS; p++) {
      images[out + 3 * p] = d[px + p];
      images[out + 3 * p + 1] = d[px + PIXELS + p];
      images[out + 3 * p + 2] = d[px + 2 * PIXELS + p];
    }
  }
  return { images, labels };
}

function concat(parts: CifarSplit[]): CifarSplit {
  const n = parts.reduce((a, p) => a + p.labels.length, 0);
  const images = new Uint8Array(n * 3 * PIXELS), labels = new Int32Array(n);
  let k = 0;
  for (const p of parts) { images.set(p.images, k * 3 * PIXELS); labels.set(p.labels, k); k += p.labels.length; }
  return { images, labels };
}

function classNames(fs_: FileSet, file: string, count: number, fallback: string[] | null): string[] {
  const f = fs_.get(file);
  if (f) {
    const names = new TextDecoder().decode(f.data).split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
    if (names.length === count) return names;
    throw new DatasetError(`${f.name}: expected ${count} class names, found ${names.length}`);
  }
  return fallback ?? Array.from({ length: count }, (_, i) => String(i));
}

export function readCifar(src: string): CifarData {
  const files = openSource(src);
  if (files.get('data_batch_1.bin')) {
    const train = concat([1, 2, 3, 4, 5].map((i) => {
      const f = files.get(`data_batch_${i}.bin`);
      if (!f) throw new DatasetError(`${files.origin}: CIFAR-10 archive is missing data_batch_${i}.bin`);
      return decodeRecords(f, 1);
    }));
    const t = files.get('test_batch.bin');
    if (!t) throw new DatasetError(`${files.origin}: CIFAR-10 archive is missing test_batch.bin`);
    const test = decodeRecords(t, 1);
    const classes = classNames(files, 'batches.meta.txt', 10, CIFAR10_CLASSES);
    return { variant: 'cifar10', classes, train, test, origin: files.origin };
  }
  if (files.get('train.bin')) {
    const t = files.get('test.bin');
    if (!t) throw new DatasetError(`${files.origin}: CIFAR-100 archive is missing test.bin`);
    const train = decodeRecords(files.get('train.bin')!, 2);
    const test = decodeRecords(t, 2);
    const classes = classNames(files, 'fine_label_names.txt', 100, null);
    return { variant: 'cifar100', classes, train, test, origin: files.origin };
  }
  throw new DatasetError(`${files.origin}: no CIFAR binary batches found (expected data_batch_1.bin … test_batch.bin for CIFAR-10 or train.bin/test.bin for CIFAR-100)`);
}
