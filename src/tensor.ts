// Tensors: contiguous row-major data on one backend, plus the autograd edge that produced them.
// Memory is reference counted per storage so views (reshape) and tensors saved for backward
// keep data alive, and `tidy` scopes free intermediates deterministically (the GPU pool needs
// that: garbage collection is too late and too unpredictable for device memory).
import type { Backend, Storage } from './backend/backend.js';
import type { DType, TypedArray } from './runtime/dtype.js';
import { numel, type Shape } from './runtime/shape.js';
import { BackendError, fmtShape } from './runtime/errors.js';
import type { GradNode } from './autograd/tape.js';

class StorageRef {
  refs = 1;
  constructor(readonly backend: Backend, readonly storage: Storage) {}
  retain(): void { this.refs++; }
  drop(): void {
    if (--this.refs === 0) this.backend.release(this.storage);
  }
}

const scopes: Tensor[][] = [];
let scopesSuspended = 0;

/** Create tensors that belong to no tidy scope (parameters, gradients, saved activations). */
export function outsideScopes<T>(fn: () => T): T {
  scopesSuspended++;
  try { return fn(); } finally { scopesSuspended--; }
}

export class Tensor {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly backend: Backend;
  /** Set on leaves that should receive `.grad`, and on every output of a recorded op. */
  requiresGrad = false;
  grad: Tensor | null = null;
  /** The recorded op that produced this tensor (null for leaves and after tape release). */
  node: GradNode | null = null;
  /** True once backward freed the op that produced this tensor (a second backward is an error). */
  graphReleased = false;
  /** Optional label, used in error messages and by Module for parameter names. */
  name?: string;
  /**
   * Where backward() may have an op write this leaf's gradient directly (a view of an
   * optimiser's flat gradient buffer), sparing a copy per parameter per step; see gradSink().
   */
  gradSink: Tensor | null = null;
  private ref: StorageRef;
  private disposed = false;

  constructor(backend: Backend, storage: Storage | StorageRef, shape: Shape, dtype: DType) {
    this.backend = backend;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    if (storage instanceof StorageRef) { storage.retain(); this.ref = storage; }
    else this.ref = new StorageRef(backend, storage);
    if (scopes.length && !scopesSuspended) scopes[scopes.length - 1].push(this);
  }

  get storage(): Storage {
    if (this.disposed) throw new BackendError(`tensor ${this.describe()} was used after dispose()`);
    return this.ref.storage;
  }
  get size(): number { return numel(this.shape); }
  get rank(): number { return this.shape.length; }
  get isDisposed(): boolean { return this.disposed; }

  /** A new tensor object sharing this data (reshape, saved-for-backward aliases). */
  alias(shape: Shape = this.shape): Tensor {
    if (numel(shape) !== this.size) throw new RangeError(`alias: ${fmtShape(shape)} vs ${fmtShape(this.shape)}`);
    void this.storage; // throws if disposed
    return new Tensor(this.backend, this.ref, shape, this.dtype);
  }

  /**
   * Point this tensor at other storage of the same size, keeping its identity (flat parameter
   * buffers rebind every parameter to a view of one buffer; modules keep their references).
   */
  rebind(storage: Storage): void {
    if (storage.bytes !== this.ref.storage.bytes) {
      throw new RangeError(`rebind: ${storage.bytes} bytes for ${this.describe()} (${this.ref.storage.bytes} bytes)`);
    }
    this.ref.drop();
    this.ref = new StorageRef(this.backend, storage);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.ref.drop();
  }

  /** Read the data (waits for the device on the GPU backend). */
  async data(): Promise<TypedArray> { return this.backend.download(this); }

  /** Synchronous read; CPU backend only (gradient checks, tests). */
  dataSync(): TypedArray {
    const s = this.storage as Storage & { data?: TypedArray };
    if (this.backend.name !== 'cpu' || !s.data) {
      throw new BackendError(`dataSync() needs the cpu backend; use await tensor.data() on ${this.backend.name}`);
    }
    return s.data;
  }

  async item(): Promise<number> {
    if (this.size !== 1) throw new RangeError(`item(): tensor has ${this.size} elements ${fmtShape(this.shape)}`);
    return (await this.data())[0];
  }

  /** Nested-array-free summary for messages. */
  describe(): string { return `${this.name ?? 'tensor'} ${fmtShape(this.shape)} ${this.dtype} on ${this.backend.name}`; }
  toString(): string { return `Tensor(${this.describe()})`; }
}

/**
 * Run fn, then dispose every tensor created inside it except those it returns (found in the
 * returned value: a tensor, an array, or an object's values) and those with `keep()`. If fn
 * throws, every tensor it created that is not kept is disposed before the error goes on (a
 * failed step must not hold its activations: the GEMM tuner skips a tile that fails and goes on).
 */
export function tidy<T>(fn: () => T): T {
  scopes.push([]);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    for (const t of scopes.pop()!) {
      if (kept.has(t)) continue;
      try { t.dispose(); } catch { /* the original error matters more */ }
    }
    throw e;
  }
  const created = scopes.pop()!;
  const keepSet = new Set<Tensor>();
  collectTensors(result, keepSet);
  for (const t of created) {
    if (!keepSet.has(t) && !kept.has(t)) t.dispose();
    else if (scopes.length) scopes[scopes.length - 1].push(t); // hand to the enclosing scope
  }
  return result;
}

const kept = new WeakSet<Tensor>();
/** Exempt a tensor from every enclosing tidy scope (parameters, running statistics). */
export function keep<T extends Tensor>(t: T): T { kept.add(t); return t; }

function collectTensors(v: unknown, out: Set<Tensor>): void {
  if (v instanceof Tensor) out.add(v);
  else if (Array.isArray(v)) for (const x of v) collectTensors(x, out);
  else if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) for (const x of Object.values(v)) collectTensors(x, out);
}

