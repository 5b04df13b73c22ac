// GpuLoader: a prepared split resident on the backend as u8 NHWC, served as batches of indices
// (the augmentation kernels gather the pixels themselves, so a step uploads only B indices and
// B labels). Epoch e's order is a permutation drawn from Rng(seed, e), so resuming needs only
// (epoch, step) plus the augmentation Rng's state: getState()/setState().
//
// Splits larger than `residentBytes` are streamed: the epoch's permutation is cut into chunks of
// whole batches, each chunk's images are gathered from the host (memory or positional file
// reads) in permutation order and uploaded, and batches index into that chunk. Resident and
// streamed loaders yield the same images and labels in the same order for the same seed.
import type { Backend } from '../backend/backend.js';
import { Tensor, outsideScopes } from '../tensor.js';
import { Rng } from '../runtime/rng.js';
import { loadSplit, SplitReader, type SplitData } from './reader.js';
import { DatasetError, imageBytes, type DatasetMeta } from './format.js';

/** A dataset directory, or splits already in memory (loadSplit) or open for streaming (SplitReader). */
export type LoaderDataset = string | { [split: string]: SplitData | SplitReader | undefined };

export interface LoaderOptions {
  batchSize: number;
  seed: number;
  /** Drop the last partial batch (training) or serve it (evaluation). */
  dropLast: boolean;
  backend: Backend;
  /** Shuffle every epoch (default: true for 'train', false otherwise). */
  shuffle?: boolean;
  /** Largest split kept resident as one tensor; larger ones stream (default: the device's binding limit). */
  residentBytes?: number;
  /** Images per streamed chunk (rounded down to whole batches; default: as many as residentBytes allows). */
  chunkImages?: number;
}

export interface LoaderBatch {
  /** i32 [B]: positions of this batch's images in `images`. */
  idx: Tensor;
  /** i32 [B]: their class labels. */
  labels: Tensor;
  /** u8 [N, H, W, C]: the resident split (or the current streamed chunk). Owned by the loader. */
  images: Tensor;
  /** Dataset indices of the batch (host copy, e.g. for kNN bookkeeping). */
  indices: Int32Array;
  epoch: number;
  step: number;
}

export interface LoaderState {
  seed: number;
  /** The epoch and the next step within it that epoch() will yield. */
  epoch: number;
  step: number;
  /** State of `augRng` (the Rng that draws augmentation parameters). */
  augRng: number[];
}

interface HostSource {
  count: number;
  shape: [number, number, number];
  labels: Int32Array;
  meta: DatasetMeta;
  /** All images (resident mode). */
  all(): Uint8Array;
  /** Images at `indices`, in that order. */
  gather(indices: Int32Array): Uint8Array;
  close(): void;
}

function fromSplitData(d: SplitData): HostSource {
  const size = imageBytes(d.shape);
  return {
    count: d.count, shape: d.shape, labels: d.labels, meta: d.meta,
    all: () => d.images,
    gather: (indices) => {
      const out = new Uint8Array(indices.length * size);
      for (let k = 0; k < indices.length; k++) out.set(d.images.subarray(indices[k] * size, (indices[k] + 1) * size), k * size);
      return out;
    },
    close: () => {},
  };
}

function fromReader(r: SplitReader, owned: boolean): HostSource {
  return {
    count: r.count, shape: r.shape, labels: r.labels, meta: r.meta,
    all: () => r.read(0, r.count).images,
    gather: (indices) => r.gather(indices).images,
    close: () => { if (owned) r.close(); },
  };
}

/** Largest tensor the backend can bind (WebGPU limits); effectively unlimited on the CPU. */
function defaultResidentBytes(backend: Backend): number {
  const limits = (backend as unknown as { runtime?: { limits?: GPUSupportedLimits } }).runtime?.limits;
  if (limits) return Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  return 2 ** 32;
}

/** Seed of epoch e's permutation (splitmix-style mixing so nearby seeds/epochs decorrelate). */
function epochSeed(seed: number, epoch: number): number {
  let z = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x2c1b3c6d) >>> 0;
  return (z ^ (z >>> 13)) >>> 0;
}

export class GpuLoader {
  readonly count: number;
  /** [H, W, C] of every image. */
  readonly shape: [number, number, number];
  readonly meta: DatasetMeta;
  readonly batchSize: number;
  readonly stepsPerEpoch: number;
  /** True when the split does not fit `residentBytes` and is uploaded chunk by chunk. */
  readonly streamed: boolean;
  /** Images per uploaded chunk (= count when resident). */
  readonly chunkImages: number;
  /** Draws augmentation parameters (sampleParams); saved with getState(). */
  readonly augRng: Rng;
  private readonly source: HostSource;
  private readonly backend: Backend;
  private readonly seed: number;
  private readonly shuffle: boolean;
  private readonly dropLast: boolean;
  private resident: Tensor | null = null;
  private next = { epoch: 0, step: 0 };

  constructor(ds: LoaderDataset, readonly split: 'train' | 'test', opts: LoaderOptions) {
    if (!(Number.isInteger(opts.batchSize) && opts.batchSize > 0)) {
      throw new RangeError(`GpuLoader: batchSize must be a positive integer, got ${opts.batchSize}`);
    }
    this.backend = opts.backend;
    this.batchSize = opts.batchSize;
    this.seed = opts.seed >>> 0;
    this.dropLast = opts.dropLast;
    this.shuffle = opts.shuffle ?? split === 'train';
    this.augRng = new Rng((this.seed ^ 0x5bd1e995) >>> 0);

    const imageSize = (shape: [number, number, number]) => imageBytes(shape);
    const budget = opts.residentBytes ?? defaultResidentBytes(this.backend);
    if (typeof ds === 'string') {
      const reader = new SplitReader(ds, split);
      if (reader.count * reader.imageSize <= budget) {
        reader.close();
        this.source = fromSplitData(loadSplit(ds, split));
      } else {
        this.source = fromReader(reader, true);
      }
    } else {
      const s = ds[split];
      if (!s) throw new DatasetError(`GpuLoader: no "${split}" split given (have ${Object.keys(ds).join(', ') || 'none'})`);
      this.source = s instanceof SplitReader ? fromReader(s, false) : fromSplitData(s);
    }
    this.count = this.source.count;
    this.shape = this.source.shape;
    this.meta = this.source.meta;
    const bytes = this.count * imageSize(this.shape);
    this.stepsPerEpoch = this.dropLast ? Math.floor(this.count / this.batchSize) : Math.ceil(this.count / this.batchSize);
    if (this.stepsPerEpoch === 0) {
      throw new DatasetError(`GpuLoader: ${this.count} ${split} images make no batch of ${this.batchSize} with dropLast`);
    }
    this.streamed = bytes > budget;
    if (this.streamed) {
      const fit = Math.floor(budget / imageSize(this.shape));
      const want = Math.min(opts.chunkImages ?? fit, fit);
      const batches = Math.floor(want / this.batchSize);
      if (batches < 1) {
        throw new DatasetError(`GpuLoader: a chunk of ${want} images holds no batch of ${this.batchSize} ` +
          `(residentBytes ${budget}, ${imageSize(this.shape)} bytes per image)`);
      }
      this.chunkImages = batches * this.batchSize;
    } else {
      this.chunkImages = this.count;
      this.resident = this.upload(this.source.all(), this.count);
    }
  }

  /** Dataset mean/std (meta.json, [0, 1] units) for the augmentation recipes. */
  get mean(): number[] { return this.meta.mean; }
  get std(): number[] { return this.meta.std; }

  /** The order of epoch e (dataset indices). */
  order(epoch: number): Int32Array {
    const perm = Int32Array.from({ length: this.count }, (_, i) => i);
    if (this.shuffle) new Rng(epochSeed(this.seed, epoch)).shuffle(perm);
    return perm;
  }

  /**
   * The batches of epoch e, from step getState().step when e is the epoch setState() named
   * (resume), else from 0. Each batch's idx and labels are disposed when the next one is
   * requested (keep data you need across steps on the host: `indices`).
   */
  *epoch(e: number): Generator<LoaderBatch> {
    const start = e === this.next.epoch ? this.next.step : 0;
    const perm = this.order(e);
    const B = this.batchSize;
    let chunk: { tensor: Tensor; first: number } | null = null;
    let current: LoaderBatch | null = null;
    try {
      for (let step = start; step < this.stepsPerEpoch; step++) {
        const from = step * B, n = Math.min(B, this.count - from);
        const indices = perm.slice(from, from + n);
        let images: Tensor, local: Int32Array;
        if (this.resident) {
          images = this.resident;
          local = indices;
        } else {
          const c = Math.floor(from / this.chunkImages);
          if (!chunk || chunk.first !== c * this.chunkImages) {
            chunk?.tensor.dispose();
            const first = c * this.chunkImages;
            const ids = perm.subarray(first, Math.min(first + this.chunkImages, this.count));
            chunk = { tensor: this.upload(this.source.gather(ids), ids.length), first };
          }
          images = chunk.tensor;
          local = Int32Array.from({ length: n }, (_, k) => from - chunk!.first + k);
        }
        const labels = Int32Array.from(indices, (i) => this.source.labels[i]);
        this.disposeBatch(current);
        current = outsideScopes(() => ({
          idx: this.tensorI32(local), labels: this.tensorI32(labels), images, indices, epoch: e, step,
        }));
        this.next = { epoch: e, step: step + 1 };
        yield current;
      }
      this.next = { epoch: e + 1, step: 0 };
    } finally {
      this.disposeBatch(current);
      chunk?.tensor.dispose();
    }
  }

  getState(): LoaderState {
    return { seed: this.seed, epoch: this.next.epoch, step: this.next.step, augRng: this.augRng.getState() };
  }

  setState(s: LoaderState): void {
    if ((s.seed >>> 0) !== this.seed) throw new RangeError(`GpuLoader.setState: state of seed ${s.seed}, loader has seed ${this.seed}`);
    if (!(s.step >= 0 && s.step <= this.stepsPerEpoch)) {
      throw new RangeError(`GpuLoader.setState: step ${s.step} outside [0, ${this.stepsPerEpoch}]`);
    }
    this.next = s.step === this.stepsPerEpoch ? { epoch: s.epoch + 1, step: 0 } : { epoch: s.epoch, step: s.step };
    this.augRng.setState(s.augRng);
  }

  /** Free the resident images and close files the loader opened. */
  dispose(): void {
    this.resident?.dispose();
    this.resident = null;
    this.source.close();
  }

  private disposeBatch(batch: LoaderBatch | null): void {
    if (batch) { batch.idx.dispose(); batch.labels.dispose(); }
  }

  private upload(bytes: Uint8Array, n: number): Tensor {
    const [h, w, c] = this.shape;
    return outsideScopes(() => new Tensor(this.backend, this.backend.upload(bytes, 'u8'), [n, h, w, c], 'u8'));
  }

  private tensorI32(a: Int32Array): Tensor {
    return new Tensor(this.backend, this.backend.upload(a, 'i32'), [a.length], 'i32');
  }
}
