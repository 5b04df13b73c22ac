// IDX files (MNIST, Fashion-MNIST, KMNIST, …): big-endian header
//   0x00 0x00 <type> <ndims>, then ndims u32 dimensions, then the data.
// Only type 0x08 (unsigned byte) is used by these data sets. Files may be gzipped or raw.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DatasetError } from './format.js';
import { readMaybeGzip } from './gzip.js';

export interface IdxArray { dims: number[]; data: Uint8Array }

export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  if (bytes.length < 4) throw new DatasetError(`${file}: too short for an IDX header (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const type = bytes[2], ndims = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || ndims < 1 || ndims > 4) {
    throw new DatasetError(`${file}: bad IDX magic number 0x${magic.toString(16).padStart(8, '0')} (expected 0x00000801 labels or 0x00000803 images)`);
  }
  if (type !== 0x08) {
    throw new DatasetError(`${file}: IDX element type 0x${type.toString(16)} is not supported (only 0x08 unsigned byte)`);
  }
  const headerLen = 4 + 4 * ndims;
  if (bytes.length < headerLen) throw new DatasetError(`${file}: truncated IDX header`);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerLen;
  if (actual !== expected) {
    throw new DatasetError(`${file}: IDX header says [${dims.join(', ')}] = ${expected} bytes of data, file has ${actual} (${actual < expected ? 'truncated' : 'trailing bytes'})`);
  }
  return { dims, data: bytes.subarray(headerLen) };
}

export function readIdxFile(file: string): IdxArray {
  return parseIdx(readMaybeGzip(file), file);
}

export interface IdxFiles { trainImages: string; trainLabels: string; testImages: string; testLabels: string }

const PATTERN = /^(train|t10k|test)[-_.](images|labels)[-_.]idx([13])[-_.]ubyte(\.gz)?$/i;

/** Finds the four IDX files in `dir` by their conventional names (gzipped or raw). */
export function findIdxFiles(dir: string): IdxFiles {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    throw new DatasetError(`cannot read IDX source directory ${dir}: ${(e as Error).message}`);
  }
  const found: Partial<Record<keyof IdxFiles, string>> = {};
  for (const name of names.sort()) {
    const m = PATTERN.exec(name);
    if (!m) continue;
    const split = m[1].toLowerCase() === 'train' ? 'train' : 'test';
    const kind = m[2].toLowerCase() === 'images' ? 'Images' : 'Labels';
    const key = `${split}${kind}` as keyof IdxFiles;
    // Prefer the raw file when both raw and .gz are present (no decompression needed).
    if (!found[key] || !m[4]) found[key] = path.join(dir, name);
  }
  const missing = (['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const).filter((k) => !found[k]);
  if (missing.length > 0) {
    const want: Record<string, string> = {
      trainImages: 'train-images-idx3-ubyte[.gz]', trainLabels: 'train-labels-idx1-ubyte[.gz]',
      testImages: 't10k-images-idx3-ubyte[.gz]', testLabels: 't10k-labels-idx1-ubyte[.gz]',
    };
    throw new DatasetError(`${dir}: missing IDX file(s) ${missing.map((k) => want[k]).join(', ')}`);
  }
  return found as IdxFiles;
}

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

/** Reads an images/labels pair and checks they agree; returns N×H×W×1 bytes and labels. */
export function readIdxPair(imagesFile: string, labelsFile: string): { images: Uint8Array; labels: Int32Array; h: number; w: number } {
  const img = readIdxFile(imagesFile);
  if (img.dims.length !== 3) throw new DatasetError(`${imagesFile}: expected a 3-d IDX image array [N, H, W], got [${img.dims.join(', ')}]`);
  const lbl = readIdxFile(labelsFile);
  if (lbl.dims.length !== 1) throw new DatasetError(`${labelsFile}: expected a 1-d IDX label array, got [${lbl.dims.join(', ')}]`);
  if (lbl.dims[0] !== img.dims[0]) {
    throw new DatasetError(`${labelsFile} has ${lbl.dims[0]} labels but ${imagesFile} has ${img.dims[0]} images`);
  }
  return { images: img.data, labels: Int32Array.from(lbl.data), h: img.dims[1], w: img.dims[2] };
}
