// The runtime's storages and its pool of free buffers: pooled allocations (a whole pool buffer, or
// a region of a step arena's), views into them, the size classes, and the free lists.
import { BackendError } from '../../runtime/errors.js';
import type { AllocTrace, StepArena } from './memory_plan.js';
import type { GpuStorage } from './context.js';

export class PooledStorage implements GpuStorage {
  readonly backend = 'webgpu' as const;
  released = false;
  /** The step trace this allocation is in (memory_plan.ts), and its index there. */
  trace: AllocTrace | null = null;
  traceIndex = -1;
  /** The arena whose region it holds (at `offset`), if a planned step gave it one. */
  arena: StepArena | null = null;
  /**
   * sizeClass: the bytes it holds (its buffer's, or its arena region's). results: from the pool of
   * copied-out step results (copyOut), which steps never draw on.
   */
  constructor(readonly buffer: GPUBuffer, readonly bytes: number, readonly sizeClass: number, readonly results = false,
    readonly offset = 0) {}
}

/** A region of another storage (flat parameter buffers); releasing it never frees the base. */
export class ViewStorage implements GpuStorage {
  readonly backend = 'webgpu' as const;
  constructor(readonly base: GpuStorage, readonly buffer: GPUBuffer, readonly offset: number, readonly bytes: number) {}
  get released(): boolean { return (this.base as PooledStorage).released === true; }
}

/** The pool's allocation behind a storage (a view's or binding region's base, however deep), or null. */
export function pooledBase(s: GpuStorage): PooledStorage | null {
  let x: GpuStorage = s;
  while (x.base) x = x.base;
  return x instanceof PooledStorage ? x : null;
}

/**
 * Size classes: powers of two below 64 KiB, then eighth steps between powers of two (at most
 * 12.5% waste) so that a ResNet's many tensor sizes share few buckets. Eighths allocated less
 * than quarters (25% waste) for every step measured, with the pool's reuse of larger free buffers
 * up to 2×: 1.6–7% less, CO-BYOL RF99-ResNet50 882 → 824 MB, CO-MoCo v3 ResNet-50 713 → 670 MB
 * (lavapipe, GPU routing, batch 2; bench/RESULTS.md, thirteenth session). Sixteenths gained at
 * most 0.6% more.
 */
export function sizeClass(bytes: number): number {
  const b = Math.max(256, Math.ceil(bytes / 4) * 4);
  const p = 2 ** Math.ceil(Math.log2(b));
  if (p <= 1 << 16) return p;
  const step = p / 16; // p/2 .. p in eighths of p/2
  return Math.ceil(b / step) * step;
}

/**
 * How much larger than asked a free buffer may be to be given instead of a new one
 * (COENGINE_POOL_LARGER; 1 turns the reuse off). Of 1, 1.5, 2, 3 and 4, 2 and 3 allocated the
 * least for an RF99-ResNet50 step and 3 for a ResNet-50 one (2.4% under 2). The limit is on the
 * class: a tensor gets a buffer at most 2× its class, i.e. up to ~2.5× its bytes, ~4× below
 * 64 KiB where classes are powers of two (bench/RESULTS.md, tenth session).
 */
export function largerFreeLimit(v: string | undefined): number {
  if (v === undefined || v === '') return 2;
  const x = Number(v);
  if (!(x >= 1)) throw new BackendError(`COENGINE_POOL_LARGER must be a number ≥ 1 (1: no reuse of larger buffers), not '${v}'`);
  return x;
}

/**
 * The pool's free buffers, a list per size. Deterministic: each list is kept sorted by the
 * runtime's buffer ids, and take() gives the lowest-numbered buffer, so a repeated step gets the
 * same buffer for the same tensor every time (a LIFO would rotate them). That is what lets every
 * bind group of the steady state come from the cache.
 */
export class FreeBuffers {
  private readonly lists = new Map<number, GPUBuffer[]>();
  /** The sizes that have a list (possibly empty), ascending: take()'s larger-size search. */
  private readonly sizes: number[] = [];

  constructor(private readonly idOf: (o: object) => number, private readonly largerLimit: number) {}

  /**
   * The lowest-numbered free buffer of class cls, else of the smallest size that holds `bytes`
   * and has one, up to largerLimit× cls. Size classes alone fragment the pool: a step's
   * buffers of one class sit idle while another class creates new ones (a ResNet-50 step
   * allocated 25% more than its peak in use). Pool buffers all have class sizes, so those that
   * hold `bytes` are the larger classes; the buffers of a dissolved step arena (memory_plan.ts)
   * have sizes between classes, and serve what fits them.
   */
  take(cls: number, bytes: number): GPUBuffer | undefined {
    const own = this.lists.get(cls)?.pop();
    if (own || this.largerLimit <= 1) return own;
    const sizes = this.sizes;
    let lo = 0, hi = sizes.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (sizes[mid] < bytes) lo = mid + 1; else hi = mid; }
    for (let i = lo; i < sizes.length && sizes[i] <= cls * this.largerLimit; i++) {
      const b = this.lists.get(sizes[i])!.pop();
      if (b) return b;
    }
    return undefined;
  }

  /** The lowest-numbered free buffer of size cls that is not in `busy` (deterministic too). */
  takeNotIn(cls: number, busy: ReadonlySet<GPUBuffer>): GPUBuffer | undefined {
    const list = this.lists.get(cls);
    if (!list) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      if (!busy.has(list[i])) return list.splice(i, 1)[0];
    }
    return undefined;
  }

  /** Give a buffer back, to the list of `size` (its size class, or its own size). */
  put(buffer: GPUBuffer, size: number): void {
    let list = this.lists.get(size);
    if (!list) {
      this.lists.set(size, (list = []));
      const at = this.sizes.findIndex((s) => s > size);
      this.sizes.splice(at < 0 ? this.sizes.length : at, 0, size);
    }
    // Sorted by id, largest first: pop() takes the lowest-numbered.
    const id = this.idOf(buffer);
    let at = list.length;
    while (at > 0 && this.idOf(list[at - 1]) < id) at--;
    list.splice(at, 0, buffer);
  }

  /** Take a given free buffer out (it was put under its own size). */
  remove(buffer: GPUBuffer): void {
    const list = this.lists.get(buffer.size);
    const at = list ? list.indexOf(buffer) : -1;
    if (at < 0) throw new BackendError('webgpu pool: removed a buffer that is not free');
    list!.splice(at, 1);
  }

  /** Every free buffer, by size, then id (ascending). */
  bySize(): GPUBuffer[] {
    const out: GPUBuffer[] = [];
    for (const size of this.sizes) out.push(...this.lists.get(size)!.slice().reverse());
    return out;
  }

  /** Empty the pool, handing back what it held (for the caller to destroy). */
  clear(): GPUBuffer[] {
    const all: GPUBuffer[] = [];
    for (const list of this.lists.values()) all.push(...list);
    this.lists.clear();
    this.sizes.length = 0;
    return all;
  }
}

export function fmtBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}
