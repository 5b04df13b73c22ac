// A tiny prepared dataset on disk for the loader tests: image i has bytes (i & 255, i >> 8, k…)
// so a batch's pixels identify the dataset index they came from; label(i) = i mod 7.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DatasetWriter } from '../../src/data/writer.js';

export const LABEL = (i: number) => i % 7;

export function makeDataset(counts: { train: number; test: number }, shape: [number, number, number] = [4, 4, 3]): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coengine-loader-'));
  const w = new DatasetWriter(dir);
  const size = shape[0] * shape[1] * shape[2];
  for (const split of ['train', 'test'] as const) {
    const n = counts[split];
    const sw = w.split(split, n, shape);
    const images = new Uint8Array(n * size);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < size; k++) images[i * size + k] = (k * 37 + i) & 255;
      images[i * size] = i & 255;
      images[i * size + 1] = i >> 8;
    }
    sw.writeImages(0, images);
    sw.writeLabels(0, Int32Array.from({ length: n }, (_, i) => LABEL(i)));
  }
  w.finish({ name: 'loader-test', classes: ['0', '1', '2', '3', '4', '5', '6'], source: { format: 'synthetic' } });
  return dir;
}

/** Dataset index of an image from its first two bytes. */
export function imageId(images: Uint8Array, pos: number, size: number): number {
  return images[pos * size] + 256 * images[pos * size + 1];
}
