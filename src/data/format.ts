// The prepared-dataset format (documented in data-tools/FORMAT.md): a directory holding
// meta.json plus, per split, <split>.images.u8 (uint8 NHWC, count×h×w×c bytes, no header) and
// <split>.labels.i32 (int32 little-endian, count×4 bytes). Raw headerless files can be
// memory-loaded in one read or streamed in chunks with positional reads.

export const FORMAT_ID = 'coengine-dataset';
export const FORMAT_VERSION = 1;
export const META_FILE = 'meta.json';

export type SourceFormat = 'idx' | 'cifar' | 'imagefolder' | 'synthetic';

export interface SplitMeta {
  /** Number of images (and labels). */
  count: number;
  /** Image file name inside the dataset directory, e.g. "train.images.u8". */
  file: string;
  /** Label file name inside the dataset directory, e.g. "train.labels.i32". */
  labelsFile: string;
  /** CRC-32 (hex) of the image file. */
  imagesCrc32: string;
  /** CRC-32 (hex) of the label file. */
  labelsCrc32: string;
}

export interface DatasetMeta {
  format: typeof FORMAT_ID;
  version: number;
  name: string;
  classes: string[];
  /** [height, width, channels] of every image. */
  shape: [number, number, number];
  layout: 'NHWC';
  dtype: 'uint8';
  labelDtype: 'int32le';
  splits: { train: SplitMeta; test: SplitMeta; [split: string]: SplitMeta };
  /** Per-channel mean over the train split, pixels scaled to [0, 1]. */
  mean: number[];
  /** Per-channel standard deviation (population) over the train split, pixels in [0, 1]. */
  std: number[];
  /** CRC-32 over all binary files, in split order (train, test, …) images then labels. */
  checksum: { algorithm: 'crc32'; value: string };
  source: { format: SourceFormat; path?: string; [key: string]: unknown };
}

export class DatasetError extends Error {
  override name = 'DatasetError';
}

export function imageBytes(shape: readonly number[]): number {
  return shape[0] * shape[1] * shape[2];
}

export function splitFileNames(split: string): { file: string; labelsFile: string } {
  return { file: `${split}.images.u8`, labelsFile: `${split}.labels.i32` };
}

/** Ordered split names: train, test first, then any others alphabetically. */
export function splitOrder(splits: Record<string, unknown>): string[] {
  const rest = Object.keys(splits).filter((s) => s !== 'train' && s !== 'test').sort();
  return ['train', 'test'].filter((s) => s in splits).concat(rest);
}

/** Checks the structure of a parsed meta.json; throws a DatasetError naming `where` and the field. */
export function validateMeta(m: unknown, where: string): DatasetMeta {
  const bad = (what: string): never => { throw new DatasetError(`${where}: ${what}`); };
  if (typeof m !== 'object' || m === null) bad('not a JSON object');
  const meta = m as Record<string, unknown>;
  if (meta.format !== FORMAT_ID) bad(`"format" is ${JSON.stringify(meta.format)}, expected "${FORMAT_ID}"`);
  if (typeof meta.version !== 'number' || meta.version > FORMAT_VERSION) {
    bad(`unsupported format version ${JSON.stringify(meta.version)} (this build reads up to ${FORMAT_VERSION})`);
  }
  if (typeof meta.name !== 'string') bad('"name" must be a string');
  if (!Array.isArray(meta.classes) || meta.classes.length === 0 || !meta.classes.every((c) => typeof c === 'string')) {
    bad('"classes" must be a non-empty array of strings');
  }
  const shape = meta.shape;
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    bad(`"shape" must be [h, w, c] of positive integers, got ${JSON.stringify(shape)}`);
  }
  const c = (shape as number[])[2];
  for (const key of ['mean', 'std'] as const) {
    const v = meta[key];
    if (!Array.isArray(v) || v.length !== c || !v.every((x) => typeof x === 'number')) {
      bad(`"${key}" must be ${c} numbers (one per channel), got ${JSON.stringify(v)}`);
    }
  }
  const splits = meta.splits as Record<string, unknown> | undefined;
  if (typeof splits !== 'object' || splits === null) bad('"splits" missing');
  for (const req of ['train', 'test']) if (!(req in splits!)) bad(`"splits" has no "${req}" entry`);
  for (const [name, s] of Object.entries(splits!)) {
    const sp = s as Record<string, unknown>;
    if (!Number.isInteger(sp?.count) || (sp.count as number) < 0) bad(`splits.${name}.count must be a non-negative integer`);
    for (const f of ['file', 'labelsFile'] as const) {
      const v = sp[f];
      if (typeof v !== 'string' || v.includes('/') || v.includes('\\') || v.startsWith('.')) {
        bad(`splits.${name}.${f} must be a plain file name, got ${JSON.stringify(v)}`);
      }
    }
  }
  return meta as unknown as DatasetMeta;
}
