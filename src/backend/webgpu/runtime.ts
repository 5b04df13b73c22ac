// The WebGPU runtime behind every kernel wrapper (implements GpuContext): a size-class buffer
// pool (its storages and free lists: storage.ts), step arenas (memory_plan.ts), the pipeline
// cache (pipeline_cache.ts), a command recorder that batches every dispatch into one compute pass
// until somebody reads data back, a per-submit uniform arena, pooled read-back staging, step
// logs and their replay (step_log.ts), deferred error reporting and GPU timing.
//
// Ordering argument for immediate buffer reuse: all work goes through one queue, dispatches run
// in recording order, so a buffer released after its last recorded use can be handed to a
// later dispatch of the same encoder. The exception is queue.writeBuffer, which jumps ahead of
// the not-yet-submitted encoder: upload() therefore takes a buffer that no recorded work uses,
// write() into a buffer recorded work uses goes through a recorded copy, and replay() writes
// only into buffers its plan holds, with nothing recorded yet.
import { BackendError } from '../../runtime/errors.js';
import { gentleWait } from './gentle_wait.js';
import { BindGroupCache } from './bind_group_cache.js';
import { StepLog, type StepPlan } from './step_log.js';
import { planRegions, StepArena, StepWindow, type AllocTrace, type StepMemoryHost } from './memory_plan.js';
import { captureOrigin } from './memory_report.js';
import { ANY_ACCESS, conflicting } from './binding_access.js';
import { PipelineCache } from './pipeline_cache.js';
import { FreeBuffers, PooledStorage, ViewStorage, fmtBytes, largerFreeLimit, pooledBase, sizeClass } from './storage.js';
import type { GpuContext, GpuStorage, KernelRef, Sidecar } from './context.js';

export interface RuntimeStats {
  /** createBuffer calls for storage (pool misses). Flat in the steady state of a training step. */
  buffersCreated: number;
  /** Bytes of the storage buffers the pool has created and not destroyed (trimPool): its footprint. */
  bytesAllocated: number;
  /** Bytes held by live storages: their pool buffers' (size classes), or their step-arena regions'. */
  bytesInUse: number;
  peakBytesInUse: number;
  /** Bytes (size classes) that step plans hold out of the pool for their replays (step_log.ts). */
  bytesReserved: number;
  /** Other createBuffer calls: uniform arena chunks, read-back staging, timestamp resolves. */
  auxBuffersCreated: number;
  pipelines: number;
  /** createBindGroup calls (bind-group cache misses). Flat in the steady state, like buffersCreated. */
  bindGroupsCreated: number;
  /** Arena regions moved through a scratch buffer for a dispatch (separateRegions): 0 unless a step left its memory plan part-way. */
  regionsSeparated: number;
  dispatches: number;
  submits: number;
}

/** Bind groups kept for reuse; a training step needs a few thousand. */
const BIND_GROUP_CACHE = 16_384;

const STORAGE_USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
const UNIFORM_CHUNK = 1 << 16;
const MAX_TIMED_PASSES = 256;
/** Dispatches one profiling query set times (a query set holds at most 4096 timestamps). */
const PROFILED_PER_SET = 2048;
/** Dispatches timed by profileDispatches: 8 query sets (multi-crop steps record ~2,500). */
const MAX_PROFILED = 8 * PROFILED_PER_SET;

export class GpuRuntime implements GpuContext, StepMemoryHost {
  readonly limits: GPUSupportedLimits;
  readonly features: ReadonlySet<string>;
  private readonly pipelineCache: PipelineCache;
  private readonly free: FreeBuffers;
  private readonly resultsFree = new Map<number, GPUBuffer[]>();
  private readonly stagingFree = new Map<number, GPUBuffer[]>();

  // Recording state: one encoder and one compute pass until a flush.
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly usedInEncoder = new Set<GPUBuffer>();

  // Uniform arena: chunks filled on the host while recording, written just before the submit.
  private readonly uniformChunks: { buffer: GPUBuffer; data: Uint8Array }[] = [];
  private uniformChunk = 0;
  private readonly bindGroups = new BindGroupCache(BIND_GROUP_CACHE);
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;
  private uniformOffset = 0;
  private readonly uniformAlign: number;

  // Timing (timeDispatches): each pass recorded while timing writes a begin/end pair.
  private timing: { querySet: GPUQuerySet; pairs: number } | null = null;
  // Profiling (profileDispatches): every dispatch in its own timed pass, labels in order.
  private profiling: { querySets: GPUQuerySet[]; labels: string[]; flops: number[] } | null = null;

  // Step logging and replay (step_log.ts): the log being recorded, and the buffers that live
  // plans hold out of the pool.
  private log: StepLog | null = null;
  private readonly reserved = new Set<GPUBuffer>();
  // Planned step memory (memory_plan.ts): the step being traced, and the live arenas' buffers.
  private window: StepWindow | null = null;
  private readonly arenaOf = new Map<GPUBuffer, StepArena>();
  /** Note each traced allocation's origin (memory_report.ts: `bench step --memory-peak`); costly on the host. */
  traceOrigins = false;
  /** By-products attached to a storage (attachSidecar), released with it. */
  private readonly sidecars = new Map<GpuStorage, Sidecar>();

  // The first asynchronous device error since the last check; thrown at flush/read.
  private pendingError: Error | null = null;
  private lost: Error | null = null;
  private lastLabel = '(none)';

  /** The counters stats() reports (pipelines: the pipeline cache's own count). */
  private readonly counters: Omit<RuntimeStats, 'pipelines'> = {
    buffersCreated: 0, bytesAllocated: 0, bytesInUse: 0, peakBytesInUse: 0, bytesReserved: 0, auxBuffersCreated: 0,
    bindGroupsCreated: 0, regionsSeparated: 0, dispatches: 0, submits: 0,
  };

  constructor(readonly device: GPUDevice) {
    this.limits = device.limits;
    this.features = new Set(device.features);
    this.uniformAlign = Math.max(16, device.limits.minUniformBufferOffsetAlignment);
    // A compile error outranks the pipeline-creation error it causes.
    this.pipelineCache = new PipelineCache(device, (e) => { this.pendingError = e; });
    this.free = new FreeBuffers((o) => this.idOf(o), largerFreeLimit(process.env.COENGINE_POOL_LARGER));
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      ev.preventDefault(); // we report it ourselves, with context, instead of Dawn printing it
      let msg = ev.error.message.trim();
      // Dawn reports WGSL errors synchronously inside createShaderModule: name the file.
      msg = this.pipelineCache.wgslError(msg) ?? msg;
      // A failed allocation surfaces first as the invalid pool buffer it left behind (the
      // out-of-memory error scope resolves later): say what it was.
      const invalid = /Invalid Buffer "pool (\d+)"\] is invalid/.exec(msg);
      if (invalid) {
        this.pendingError ??= new BackendError(`GPU out of memory: a ${fmtBytes(Number(invalid[1]))} buffer could not be ` +
          `allocated (${fmtBytes(this.counters.bytesInUse + this.counters.bytesReserved)} in use by coengine, peak ${fmtBytes(this.counters.peakBytesInUse)}); ` +
          `reduce the batch size or the image size (last recorded dispatch: ${this.lastLabel})`);
        return;
      }
      this.pendingError ??= new BackendError(`WebGPU ${ev.error.constructor.name}: ${msg} ` +
        `(last recorded dispatch: ${this.lastLabel})`);
    };
    void device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.lost = new BackendError(`WebGPU device lost (${info.reason}): ${info.message}`);
    });
  }

  // ---------------------------------------------------------------- errors

  /** Throw the first error the device reported asynchronously, if any. */
  checkErrors(): void {
    if (this.lost) throw this.lost;
    const e = this.pendingError;
    if (e) { this.pendingError = null; this.discardRecording(); throw e; }
  }

  /** Drop recorded-but-unsubmitted work (after an error it may hold invalid commands). */
  private discardRecording(): void {
    try { this.pass?.end(); } catch { /* already invalid */ }
    this.pass = null;
    this.encoder = null;
    this.usedInEncoder.clear();
    this.uniformChunk = 0;
    this.uniformOffset = 0;
  }

  // ---------------------------------------------------------------- memory

  /**
   * Storage from the pool (contents undefined unless `zero`). With `notRecorded`, never a buffer
   * that work recorded since the last submit uses: what upload() needs so that its
   * queue.writeBuffer cannot overtake that work and no flush is forced mid-step.
   */
  alloc(bytes: number, zero = false, notRecorded = false): GpuStorage {
    if (!(bytes >= 0) || !Number.isFinite(bytes)) throw new BackendError(`alloc: invalid size ${bytes}`);
    const maxBinding = this.limits.maxStorageBufferBindingSize;
    if (bytes > maxBinding || bytes > this.limits.maxBufferSize) {
      throw new BackendError(`cannot allocate ${fmtBytes(bytes)} on the GPU: larger than the device's storage binding ` +
        `limit ${fmtBytes(Math.min(maxBinding, this.limits.maxBufferSize))} (maxStorageBufferBindingSize)`);
    }
    const planned = this.window?.alloc(bytes, !notRecorded, this.traceOrigins ? captureOrigin() : undefined);
    const region = planned?.region;
    let s: PooledStorage;
    if (region) {
      s = new PooledStorage(region.buffer, bytes, region.bytes, false, region.offset);
      s.arena = this.window!.arena;
    } else {
      const cls = this.poolClass(bytes);
      const buffer = (notRecorded ? this.free.takeNotIn(cls, this.usedInEncoder) : this.free.take(cls, bytes)) ?? this.createStorageBuffer(cls);
      s = new PooledStorage(buffer, bytes, buffer.size);
    }
    if (planned) {
      s.trace = this.window!.trace;
      s.traceIndex = planned.index;
    }
    this.countInUse(s.sizeClass);
    if (zero) this.zero(s);
    return s;
  }

  /** The size of pool buffer that serves `bytes`: its size class, unless that is past the binding limit. */
  private poolClass(bytes: number): number {
    const cls = sizeClass(bytes);
    if (cls <= this.limits.maxStorageBufferBindingSize) return cls;
    return Math.min(Math.ceil(bytes / 16) * 16, this.limits.maxBufferSize); // still bindable as vec4
  }

  private countInUse(bytes: number): void {
    this.counters.bytesInUse += bytes;
    this.counters.peakBytesInUse = Math.max(this.counters.peakBytesInUse, this.counters.bytesInUse);
  }

  private createStorageBuffer(size: number): GPUBuffer {
    this.device.pushErrorScope('out-of-memory');
    const buffer = this.device.createBuffer({ size, usage: STORAGE_USAGE, label: `pool ${size}` });
    const inUse = this.counters.bytesInUse + this.counters.bytesReserved;
    void this.device.popErrorScope().then((err) => {
      if (err) this.pendingError ??= new BackendError(`GPU out of memory allocating ${fmtBytes(size)} ` +
        `(${fmtBytes(inUse)} already in use): ${err.message}`);
    });
    this.counters.buffersCreated++;
    this.counters.bytesAllocated += size;
    return buffer;
  }

  /** A storage aliasing `bytes` bytes of base from byte `offset` (must keep binding alignment). */
  view(base: GpuStorage, offset: number, bytes: number): GpuStorage {
    const at = (base.offset ?? 0) + offset;
    if (at % this.limits.minStorageBufferOffsetAlignment !== 0) {
      throw new BackendError(`view at byte offset ${at} breaks the device's storage offset alignment ` +
        `(${this.limits.minStorageBufferOffsetAlignment} bytes)`);
    }
    if (offset < 0 || offset + bytes > base.bytes) {
      throw new BackendError(`view of ${bytes} bytes at ${offset} exceeds its base of ${base.bytes} bytes`);
    }
    return new ViewStorage(base, base.buffer, at, bytes);
  }

  release(s: GpuStorage): void {
    if (s instanceof ViewStorage) return;
    const p = s as PooledStorage;
    if (p.released) throw new BackendError('webgpu: storage released twice');
    if (this.reserved.has(p.buffer)) throw new BackendError('webgpu: released a buffer that a step plan holds');
    p.released = true;
    this.counters.bytesInUse -= p.sizeClass;
    p.trace?.release(p.traceIndex);
    if (p.arena) {
      // A dissolved arena's buffer goes to the pool once nothing of it is held.
      if (p.arena.giveBack(p.traceIndex) && !p.arena.live) this.free.put(p.buffer, p.buffer.size);
    } else if (p.results) {
      let list = this.resultsFree.get(p.sizeClass);
      if (!list) this.resultsFree.set(p.sizeClass, (list = []));
      list.push(p.buffer);
    } else {
      this.free.put(p.buffer, p.sizeClass);
    }
    // Its sidecar after it: should that release throw, the owner is already back in the pool.
    this.dropSidecar(s);
  }

  /**
   * Attach a by-product of the work that made `owner` (e.g. the column statistics a GEMM
   * epilogue computed for a following batch norm). It describes the owner's contents as they
   * are now: it goes back to the pool with its owner, or when write() changes the owner, unless
   * a consumer takes it first. One per owner (a second replaces and releases the first); the
   * owner must be pooled storage of its own (a view's release does nothing, so a sidecar on a
   * view would never be released).
   */
  attachSidecar(owner: GpuStorage, side: Sidecar): void {
    if (owner instanceof ViewStorage || owner.released) throw new BackendError('attachSidecar: the owner must be live pooled storage, not a view');
    this.dropSidecar(owner);
    this.sidecars.set(owner, side);
  }

  /** Release the sidecar attached to `owner`, if any. */
  private dropSidecar(owner: GpuStorage): void {
    const side = this.sidecars.get(owner);
    if (side) { this.sidecars.delete(owner); this.release(side.storage); }
  }

  /** The sidecar of `kind` attached to `owner`, now the caller's to release; null when none. */
  takeSidecar(owner: GpuStorage, kind: string): Sidecar | null {
    const side = this.sidecars.get(owner);
    if (!side || side.kind !== kind) return null;
    this.sidecars.delete(owner);
    return side;
  }

  /** Drop every pooled free buffer (memory pressure, tests), step arenas' free buffers included. */
  trimPool(): void {
    for (const arena of new Set(this.arenaOf.values())) this.dissolveArena(arena);
    this.trimFree(true);
  }

  /** Destroy the free buffers: the main pool's, and with `results` the copied-out results' too. */
  private trimFree(results: boolean): void {
    this.flush();
    const gone = this.free.clear();
    if (results) {
      for (const list of this.resultsFree.values()) gone.push(...list);
      this.resultsFree.clear();
    }
    for (const b of gone) { this.counters.bytesAllocated -= b.size; b.destroy(); }
    this.bindGroups.clear();
  }

  // ---------------------------------------------------------------- planned step memory

  beginStepMemory(arena: StepArena | null): void {
    if (this.window) throw new BackendError('beginStepMemory: a step is already being traced');
    this.window = new StepWindow(arena?.live ? arena : null);
  }

  endStepMemory(): StepWindow {
    const w = this.window;
    if (!w) throw new BackendError('endStepMemory: no step is being traced');
    this.window = null;
    w.trace.close();
    return w;
  }

  /**
   * An arena for the trace's plan (memory_plan.ts). Each buffer, largest first, takes the smallest
   * free pool buffer that holds it with little to spare (a quarter, or 64 KiB), else a new one of
   * its exact size; every other free buffer is then destroyed. Reuse first, because Dawn frees a
   * destroyed buffer's memory only once the next submit has completed: destroying the pool and
   * creating the arena would hold both for a while, twice a step's memory. The free buffers are
   * those the steps before the plan left (and setup's, evaluation's, or an arena dissolved for
   * evaluation, whose sizes match exactly).
   */
  buildArena(trace: AllocTrace): StepArena {
    if (this.window) throw new BackendError('buildArena: not while a step is being traced');
    const plan = (trace.plan ??= planRegions(trace, (b) => this.regionSize(b)));
    const free = this.free.bySize();
    const buffers = plan.sizes.map((size) => {
      let lo = 0, hi = free.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (free[mid].size < size) lo = mid + 1; else hi = mid; }
      if (lo === free.length || free[lo].size > Math.max(1.25 * size, size + 65536)) return undefined;
      const b = free.splice(lo, 1)[0];
      this.free.remove(b);
      return b;
    });
    this.trimFree(false);
    const arena = new StepArena(trace, plan, buffers.map((b, k) => b ?? this.createStorageBuffer(plan.sizes[k])));
    for (const b of arena.buffers) this.arenaOf.set(b, arena);
    return arena;
  }

  /**
   * Region sizes: whole 256-byte blocks, so that every region starts where a binding may
   * (minStorageBufferOffsetAlignment is at most 256), within the device's buffer limit.
   */
  private regionSize(bytes: number): number {
    return Math.max(256, Math.min(Math.ceil(bytes / 256) * 256, Math.floor(this.limits.maxBufferSize / 256) * 256));
  }

  dissolveArena(arena: StepArena): void {
    if (!arena.live) return;
    arena.live = false;
    for (const b of arena.buffers) {
      this.arenaOf.delete(b);
      // Held ones go to the pool when released, reserved ones when their step plan is released.
      if (arena.isFree(b)) this.free.put(b, b.size);
    }
  }

  /** Host data into fresh storage. */
  upload(data: ArrayBufferView): GpuStorage {
    const s = this.alloc(data.byteLength, false, true);
    const padded = data.byteLength % 4 === 0 ? data : padTo4(data);
    if (padded.byteLength > 0) {
      this.device.queue.writeBuffer(s.buffer, 0, padded.buffer, padded.byteOffset, padded.byteLength);
      this.log?.upload(s.buffer, 0, padded);
    }
    return s;
  }

  /**
   * Host data into existing storage, ordered after the work recorded so far. queue.writeBuffer
   * runs before the encoder being recorded, so a buffer that recorded work uses gets the data
   * through a fresh upload and a recorded copy instead.
   */
  write(s: GpuStorage, data: ArrayBufferView): void {
    if (s.released) throw new BackendError('write: storage was released');
    // A logged write would be replayed with this step's data forever: per-step data is written
    // before a logged step, never inside it.
    if (this.log) this.log.broken ??= `write() inside the step (after ${this.lastLabel})`;
    this.dropSidecar(s); // it described the old contents
    const padded = data.byteLength % 4 === 0 ? data : padTo4(data);
    if (padded.byteLength === 0) return;
    if (!this.usedInEncoder.has(s.buffer)) {
      this.device.queue.writeBuffer(s.buffer, s.offset ?? 0, padded.buffer, padded.byteOffset, padded.byteLength);
      return;
    }
    const tmp = this.upload(padded);
    const enc = this.currentEncoder();
    this.endPass();
    enc.copyBufferToBuffer(tmp.buffer, 0, s.buffer, s.offset ?? 0, padded.byteLength);
    this.usedInEncoder.add(tmp.buffer);
    this.release(tmp);
  }

  /** Fill with zero bytes (recorded, so it is ordered with the dispatches around it). */
  private zero(s: GpuStorage): void {
    const words = Math.ceil(s.bytes / 4);
    if (words === 0) return;
    const params = new Uint32Array([words, 0, 0, 0]);
    this.dispatch(this.pipeline({ file: 'fill.wgsl', entryPoint: 'fill_u32' }), [s], params,
      this.grid(words, 256), 'zero');
  }

  /** Read `bytes` bytes of s back to the host; submits everything recorded so far. */
  async read(s: GpuStorage, bytes = s.bytes): Promise<ArrayBuffer> {
    this.checkErrors();
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const cls = sizeClass(size);
    const staging = this.stagingFree.get(cls)?.pop() ?? this.createStaging(cls);
    const enc = this.currentEncoder();
    this.endPass();
    enc.copyBufferToBuffer(s.buffer, s.offset ?? 0, staging, 0, size);
    this.flush();
    try {
      await gentleWait(() => staging.mapAsync(GPUMapMode.READ, 0, size));
    } catch (e) {
      this.checkErrors();
      throw new BackendError(`read-back of ${fmtBytes(bytes)} failed: ${(e as Error).message}`);
    }
    const out = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    let list = this.stagingFree.get(cls);
    if (!list) this.stagingFree.set(cls, (list = []));
    list.push(staging);
    this.checkErrors(); // data read after a failed dispatch is garbage: report the failure instead
    return out;
  }

  private createStaging(size: number): GPUBuffer {
    this.counters.auxBuffersCreated++;
    return this.device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: `staging ${size}` });
  }

  // ---------------------------------------------------------------- pipelines

  pipeline(k: KernelRef): GPUComputePipeline { return this.pipelineCache.get(k); }

  /** Compile a kernel and wait for its diagnostics (throws kernels/<file>:<line>:<col> errors). */
  async compileCheck(k: KernelRef): Promise<void> {
    this.pipeline(k);
    await gentleWait(() => this.device.queue.onSubmittedWorkDone());
    await new Promise((r) => setImmediate(r));
    this.checkErrors();
  }

  // ---------------------------------------------------------------- recording

  private currentEncoder(): GPUCommandEncoder {
    this.checkErrors();
    return (this.encoder ??= this.device.createCommandEncoder({ label: 'coengine step' }));
  }

  private currentPass(): GPUComputePassEncoder {
    if (this.pass) return this.pass;
    const enc = this.currentEncoder();
    let timestampWrites: GPUComputePassTimestampWrites | undefined;
    if (this.timing && this.timing.pairs < MAX_TIMED_PASSES) {
      const i = this.timing.pairs++;
      timestampWrites = { querySet: this.timing.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
    }
    this.pass = enc.beginComputePass({ timestampWrites });
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /** Workgroup grid for n threads in groups of `wg`, folded into 2-D past the 65535 limit. */
  grid(n: number, wg: number): [number, number] {
    const groups = Math.max(1, Math.ceil(n / wg));
    const maxX = this.limits.maxComputeWorkgroupsPerDimension;
    if (groups <= maxX) return [groups, 1];
    const y = Math.ceil(groups / maxX);
    if (y > maxX) throw new BackendError(`dispatch of ${n} threads exceeds the workgroup grid limit`);
    return [Math.ceil(groups / y), y];
  }

  /** Copy uniform bytes into the arena; returns where they went. */
  private uniformSlot(data: ArrayBuffer | ArrayBufferView): { buffer: GPUBuffer; offset: number; size: number } {
    const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
    const size = Math.max(16, Math.ceil(bytes.byteLength / 16) * 16);
    if (size > UNIFORM_CHUNK) throw new BackendError(`uniform block of ${bytes.byteLength} bytes is too large`);
    if (this.uniformOffset + size > UNIFORM_CHUNK) { this.uniformChunk++; this.uniformOffset = 0; }
    if (this.uniformChunk === this.uniformChunks.length) {
      this.counters.auxBuffersCreated++;
      this.uniformChunks.push({
        buffer: this.device.createBuffer({ size: UNIFORM_CHUNK, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'uniform arena' }),
        data: new Uint8Array(UNIFORM_CHUNK),
      });
    }
    const chunk = this.uniformChunks[this.uniformChunk];
    const offset = this.uniformOffset;
    const next = offset + Math.ceil(size / this.uniformAlign) * this.uniformAlign;
    chunk.data.set(bytes, offset);
    // Zeros up to the next slot, not what an earlier submit left there: a step log compares
    // these bytes (step_log.ts), and leftovers would tell two identical steps apart.
    chunk.data.fill(0, offset + bytes.byteLength, Math.min(next, UNIFORM_CHUNK));
    this.uniformOffset = next;
    return { buffer: chunk.buffer, offset, size };
  }

  dispatch(pipeline: GPUComputePipeline, buffers: GpuStorage[], uniforms: ArrayBuffer | ArrayBufferView | null,
    workgroups: [number, number?, number?], label?: string, flops?: number): void {
    const name = label ?? pipeline.label;
    for (const b of buffers) {
      if ((b as PooledStorage).released) throw new BackendError(`${name}: a buffer was used after release`);
    }
    const access = this.pipelineCache.bindingAccess(pipeline);
    if (this.window) this.noteBoundTogether(buffers, access);
    const moved = this.separateRegions(buffers, access, name);
    if (!moved) { this.record(pipeline, buffers, uniforms, workgroups, name, flops); return; }
    // The moved regions go back (and their scratch buffers to the pool) even if recording throws.
    try { this.record(pipeline, moved.buffers, uniforms, workgroups, name, flops); } finally { moved.restore(); }
  }

  /** dispatch()'s recording, once its bindings are settled. */
  private record(pipeline: GPUComputePipeline, buffers: GpuStorage[], uniforms: ArrayBuffer | ArrayBufferView | null,
    workgroups: [number, number?, number?], name: string, flops: number | undefined): void {
    const profiled = this.profiling && this.profiling.labels.length < MAX_PROFILED ? this.profiling : null;
    if (profiled) this.endPass();
    let pass: GPUComputePassEncoder;
    if (profiled) {
      const at = profiled.labels.length % PROFILED_PER_SET;
      if (at === 0) profiled.querySets.push(this.device.createQuerySet({ type: 'timestamp', count: 2 * PROFILED_PER_SET }));
      const querySet = profiled.querySets[profiled.querySets.length - 1];
      pass = this.currentEncoder().beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * at, endOfPassWriteIndex: 2 * at + 1 } });
    } else {
      pass = this.currentPass();
    }
    if (profiled) { profiled.labels.push(name); profiled.flops.push(flops ?? 0); this.pass = pass; }
    this.lastLabel = name;
    const uniform = uniforms ? this.uniformSlot(uniforms) : null;
    for (const b of buffers) this.usedInEncoder.add(b.buffer);
    const bindGroup = this.bindGroup(pipeline, buffers, uniform, name);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
    this.log?.dispatch(pipeline, bindGroup, workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1, buffers, name);
    this.counters.dispatches++;
  }

  /**
   * The traced step's allocations this dispatch binds one read-only and the other writable: the
   * plan must keep those in different buffers (two read-only bindings of one buffer, or two
   * writable ones, are allowed).
   */
  private noteBoundTogether(buffers: GpuStorage[], access: number[] | undefined): void {
    const trace = this.window!.trace;
    let modes: Map<number, number> | null = null;
    for (let i = 0; i < buffers.length; i++) {
      const p = pooledBase(buffers[i]);
      if (p?.trace !== trace || p.traceIndex < 0) continue;
      modes ??= new Map();
      modes.set(p.traceIndex, (modes.get(p.traceIndex) ?? 0) | (access?.[i] ?? ANY_ACCESS));
    }
    if (!modes || modes.size < 2) return;
    const list = [...modes];
    for (let a = 0; a < list.length; a++) for (let b = a + 1; b < list.length; b++) {
      if (conflicting(list[a][1], list[b][1])) trace.bind(list[a][0], list[b][0]);
    }
  }

  /**
   * WebGPU validates a dispatch's usage of whole buffers, not ranges: a buffer bound writable may
   * not also be bound read-only. A plan never puts allocations that a dispatch of its trace bound
   * that way in one buffer, but a step that left its plan part-way may bind ones the trace never
   * did. Then, in each buffer where that happens, every allocation after the first is copied into
   * a scratch buffer for this dispatch and back after it (it may have been written). Returns null
   * when nothing needed moving.
   */
  private separateRegions(buffers: GpuStorage[], access: number[] | undefined, name: string): { buffers: GpuStorage[]; restore: () => void } | null {
    let use: Map<GPUBuffer, { first: PooledStorage; shared: boolean; modes: number }> | null = null;
    for (let i = 0; i < buffers.length; i++) {
      const p = pooledBase(buffers[i]);
      if (!p?.arena) {
        // Every binding of an arena buffer must lead to its allocation, or neither the plan nor
        // this check can tell allocations apart (a storage made without `base`).
        if (this.arenaOf.has(buffers[i].buffer)) throw new BackendError(`${name}: a binding of a step arena buffer has no allocation behind it (a region made without its base)`);
        continue;
      }
      use ??= new Map();
      const u = use.get(p.buffer);
      const mode = access?.[i] ?? ANY_ACCESS;
      if (!u) use.set(p.buffer, { first: p, shared: false, modes: mode });
      else { u.shared ||= u.first !== p; u.modes |= mode; }
    }
    // A buffer whose allocations here are several and are bound both read-only and writable.
    const clashes = (u: { shared: boolean; modes: number }) => u.shared && conflicting(u.modes, u.modes);
    if (!use || ![...use.values()].some(clashes)) return null;
    // Per allocation to move: one scratch buffer holding its whole region, which every binding of
    // it in this dispatch then addresses (two bindings of one allocation stay one memory).
    const bound = buffers.slice();
    const moved = new Map<PooledStorage, GPUBuffer>();
    const enc = this.currentEncoder();
    this.endPass();
    for (let i = 0; i < bound.length; i++) {
      const b = bound[i], p = pooledBase(b);
      if (!p?.arena) continue;
      const u = use.get(p.buffer)!;
      if (!clashes(u) || u.first === p) continue;
      let scratch = moved.get(p);
      if (!scratch) {
        const cls = this.poolClass(p.sizeClass);
        scratch = this.free.take(cls, p.sizeClass) ?? this.createStorageBuffer(cls);
        enc.copyBufferToBuffer(p.buffer, p.offset, scratch, 0, p.sizeClass);
        this.usedInEncoder.add(scratch);
        moved.set(p, scratch);
      }
      bound[i] = new ViewStorage(b, scratch, (b.offset ?? 0) - p.offset, b.bytes);
    }
    this.counters.regionsSeparated += moved.size;
    // A log with these copies would replay without them: such a step never becomes a plan.
    if (this.log) this.log.broken ??= 'a dispatch bound two regions of one arena buffer';
    return {
      buffers: bound,
      restore: () => {
        this.endPass();
        for (const [p, scratch] of moved) {
          enc.copyBufferToBuffer(scratch, 0, p.buffer, p.offset, p.sizeClass);
          this.free.put(scratch, scratch.size);
        }
      },
    };
  }

  /**
   * Bind groups are cached by pipeline, buffer regions and uniform slot. A training step
   * allocates from the pool and the uniform arena in the same order every time, so after the
   * first step every lookup hits and no bind group is created in the steady state (creating
   * them was most of the host-side cost of a dispatch).
   */
  private bindGroup(pipeline: GPUComputePipeline, buffers: GpuStorage[], uniform: { buffer: GPUBuffer; offset: number; size: number } | null,
    label: string): GPUBindGroup {
    const key = this.bindGroups.key;
    if (3 * buffers.length + 4 > key.length) throw new BackendError(`${label}: ${buffers.length} bindings are more than a bind group key holds`);
    let n = 0;
    key[n++] = this.idOf(pipeline);
    for (const b of buffers) { key[n++] = this.idOf(b.buffer); key[n++] = b.offset ?? 0; key[n++] = b.bytes; }
    if (uniform) { key[n++] = this.idOf(uniform.buffer); key[n++] = uniform.offset; key[n++] = uniform.size; }
    const hit = this.bindGroups.get(n);
    if (hit) return hit;
    const entries: GPUBindGroupEntry[] = buffers.map((b, i) => ({
      binding: i, resource: { buffer: b.buffer, offset: b.offset ?? 0, size: Math.max(4, Math.ceil(b.bytes / 4) * 4) },
    }));
    if (uniform) entries.push({ binding: buffers.length, resource: uniform });
    const group = this.device.createBindGroup({ label, layout: pipeline.getBindGroupLayout(0), entries });
    this.bindGroups.set(n, group);
    this.counters.bindGroupsCreated++;
    return group;
  }

  private idOf(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, (id = this.nextId++));
    return id;
  }

  flush(): void {
    if (!this.encoder) { this.checkErrors(); return; }
    if (this.log) this.log.broken ??= `a submit inside the step (after ${this.lastLabel})`;
    this.endPass();
    const cmd = this.encoder.finish();
    this.encoder = null;
    for (let c = 0; c <= this.uniformChunk && c < this.uniformChunks.length; c++) {
      const used = c < this.uniformChunk ? UNIFORM_CHUNK : this.uniformOffset;
      if (used > 0) this.device.queue.writeBuffer(this.uniformChunks[c].buffer, 0, this.uniformChunks[c].data, 0, used);
    }
    this.uniformChunk = 0;
    this.uniformOffset = 0; // queue order: the next submit's writes land after this submit ran
    this.device.queue.submit([cmd]);
    this.usedInEncoder.clear();
    this.counters.submits++;
    this.checkErrors();
  }

  /** Submit and wait until the device is idle. */
  async sync(): Promise<void> {
    this.flush();
    await gentleWait(() => this.device.queue.onSubmittedWorkDone());
    this.checkErrors();
  }

  // ---------------------------------------------------------------- step logging and replay

  /**
   * Log the commands recorded from now until endLog() (see step_log.ts). Submits what was
   * recorded before, so the log starts with an empty encoder and uniform arena. False while
   * timing or profiling, whose passes a replay would not reproduce.
   */
  startLog(): boolean {
    if (this.timing || this.profiling) return false;
    this.flush();
    this.log = new StepLog();
    return true;
  }

  /** The log since startLog(), or null when it cannot be replayed. Call before the step's submit. */
  endLog(): StepLog | null {
    const log = this.log;
    this.log = null;
    if (!log || log.broken || this.timing || this.profiling) return null;
    for (let c = 0; c <= this.uniformChunk && c < this.uniformChunks.length; c++) {
      const used = c < this.uniformChunk ? UNIFORM_CHUNK : this.uniformOffset;
      log.uniforms.push(this.uniformChunks[c].data.slice(0, used));
    }
    return log;
  }

  /**
   * Make a log replayable, right after it ended (null when some buffer it binds has an owner the
   * log cannot vouch for). The buffers back in the pool by now (the step's temporaries, and its
   * outputs once the caller released them) are the plan's from here on; those still held are
   * checked alive before each replay.
   */
  adopt(log: StepLog): StepPlan | null {
    const free = new Set(this.free.bySize());
    const buffers = new Set<GPUBuffer>(log.holders.keys());
    for (const u of log.uploads) buffers.add(u.buffer);
    const reserved: GPUBuffer[] = [], external: GpuStorage[] = [];
    for (const b of buffers) {
      if (free.has(b) || this.arenaOf.get(b)?.isFree(b)) { reserved.push(b); continue; }
      const holder = log.holders.get(b);
      if (!holder || holder.released || this.reserved.has(b)) return null; // owned by something the log never bound
      external.push(holder);
    }
    let reservedBytes = 0;
    for (const b of reserved) {
      const arena = this.arenaOf.get(b);
      if (arena) arena.reserve(b);
      else this.free.remove(b);
      this.reserved.add(b);
      reservedBytes += b.size;
    }
    this.counters.bytesReserved += reservedBytes;
    return { log, reserved, reservedBytes, external, buffers: [...buffers], released: false };
  }

  /** Return a plan's buffers to the pool. */
  releasePlan(plan: StepPlan): void {
    if (plan.released) return;
    plan.released = true;
    for (const b of plan.reserved) {
      this.reserved.delete(b);
      const arena = this.arenaOf.get(b);
      if (arena) arena.unreserve(b);
      else this.free.put(b, b.size);
    }
    this.counters.bytesReserved -= plan.reservedBytes;
  }

  /**
   * Record a plan's commands again, with its uploads and uniforms: the step as logged, minus the
   * JavaScript that produced it. False (nothing recorded) when a storage it reads from was
   * released since, or while timing or profiling (a profile then times the recorded path).
   */
  replay(plan: StepPlan): boolean {
    if (plan.released || this.timing || this.profiling) return false;
    for (const s of plan.external) if (s.released) return false;
    this.flush(); // the plan's uniforms start the arena, as when it was logged
    this.checkErrors();
    const { log } = plan;
    for (const u of log.uploads) this.device.queue.writeBuffer(u.buffer, u.offset, u.data);
    for (let c = 0; c < log.uniforms.length; c++) this.uniformChunks[c].data.set(log.uniforms[c]);
    this.uniformChunk = Math.max(0, log.uniforms.length - 1);
    this.uniformOffset = log.uniforms.length ? log.uniforms[log.uniforms.length - 1].length : 0;
    const pass = this.currentPass();
    let pipeline: GPUComputePipeline | null = null, group: GPUBindGroup | null = null;
    const n = log.dispatches, grid = log.grid;
    for (let i = 0; i < n; i++) {
      if (log.pipelines[i] !== pipeline) pass.setPipeline((pipeline = log.pipelines[i]));
      if (log.groups[i] !== group) pass.setBindGroup(0, (group = log.groups[i]));
      pass.dispatchWorkgroups(grid[3 * i], grid[3 * i + 1], grid[3 * i + 2]);
    }
    for (const b of plan.buffers) this.usedInEncoder.add(b);
    this.counters.dispatches += n;
    this.lastLabel = log.lastLabel;
    return true;
  }

  /**
   * A copy of `bytes` bytes of a buffer region in fresh storage: a step's results, which the
   * caller may hold for several steps. They come from a pool of their own, so that holding them
   * does not change which buffers the next step is given (and thus its log).
   */
  copyOut(buffer: GPUBuffer, offset: number, bytes: number): GpuStorage {
    const cls = sizeClass(bytes);
    const s = new PooledStorage(this.resultsFree.get(cls)?.pop() ?? this.createStorageBuffer(cls), bytes, cls, true);
    this.countInUse(cls);
    const size = Math.ceil(bytes / 4) * 4;
    if (size > 0) {
      const enc = this.currentEncoder();
      this.endPass();
      enc.copyBufferToBuffer(buffer, offset, s.buffer, 0, size);
      this.usedInEncoder.add(buffer); // a later write() to it must come after this copy
      this.usedInEncoder.add(s.buffer);
    }
    return s;
  }

  // ---------------------------------------------------------------- timing & stats

  /**
   * Milliseconds of GPU time spent in the work `fn` records: summed pass timestamps when the
   * device has 'timestamp-query', else wall time from the first record to onSubmittedWorkDone.
   */
  async timeDispatches(fn: () => void | Promise<void>): Promise<{ ms: number; source: 'timestamps' | 'wall' }> {
    await this.sync();
    if (!this.features.has('timestamp-query')) {
      const t0 = performance.now();
      await fn();
      await this.sync();
      return { ms: performance.now() - t0, source: 'wall' };
    }
    const querySet = this.device.createQuerySet({ type: 'timestamp', count: 2 * MAX_TIMED_PASSES });
    this.timing = { querySet, pairs: 0 };
    try {
      await fn();
      this.flush();
    } finally {
      this.endPass();
    }
    const pairs = this.timing.pairs;
    this.timing = null;
    if (pairs === 0) { querySet.destroy(); return { ms: 0, source: 'timestamps' }; }
    const bytes = 16 * pairs;
    this.counters.auxBuffersCreated++;
    const resolve = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const enc = this.currentEncoder();
    enc.resolveQuerySet(querySet, 0, 2 * pairs, resolve, 0);
    const view: GpuStorage = { backend: 'webgpu', buffer: resolve, bytes };
    const ticks = new BigUint64Array(await this.read(view));
    resolve.destroy();
    querySet.destroy();
    let ns = 0n;
    for (let i = 0; i < pairs; i++) if (ticks[2 * i + 1] > ticks[2 * i]) ns += ticks[2 * i + 1] - ticks[2 * i];
    return { ms: Number(ns) / 1e6, source: 'timestamps' };
  }

  /**
   * GPU time per dispatch label while fn records (each dispatch gets its own timed pass; at most
   * the first MAX_PROFILED dispatches are timed). Labels are grouped by `key` (default: the
   * label up to its first '[' — the kernel and its variant, not the shape). `flops`: the summed
   * work of the row's dispatches that declare theirs (GEMMs and convolutions), else 0.
   * `dispatches`: every timed dispatch in recording order (the GEMM tuner's input).
   */
  async profileDispatches(fn: () => void | Promise<void>, key = (label: string) => label.replace(/\s*\[.*$/, '')):
    Promise<{ rows: ProfileRow[]; dispatches: ProfiledDispatch[]; timed: number; total: number }> {
    if (!this.features.has('timestamp-query')) throw new BackendError('profiling needs the timestamp-query feature');
    await this.sync();
    const profiling: { querySets: GPUQuerySet[]; labels: string[]; flops: number[] } = { querySets: [], labels: [], flops: [] };
    this.profiling = profiling;
    const before = this.counters.dispatches;
    try {
      await fn();
      this.flush();
    } catch (e) {
      // fn failed midway (e.g. a forced tile the device cannot launch): drop what it recorded,
      // which would use the query sets destroyed here, and nothing depends on.
      this.profiling = null;
      this.discardRecording();
      for (const q of profiling.querySets) q.destroy();
      throw e;
    } finally {
      this.endPass();
    }
    this.profiling = null;
    const { labels, flops, querySets } = profiling;
    const pairs = labels.length;
    const resolve = this.device.createBuffer({ size: Math.max(16, 16 * pairs), usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    this.counters.auxBuffersCreated++;
    querySets.forEach((q, i) => {
      const n = Math.min(PROFILED_PER_SET, pairs - i * PROFILED_PER_SET);
      this.currentEncoder().resolveQuerySet(q, 0, 2 * n, resolve, 16 * i * PROFILED_PER_SET);
    });
    const ticks = new BigUint64Array(await this.read({ backend: 'webgpu', buffer: resolve, bytes: Math.max(16, 16 * pairs) }));
    resolve.destroy();
    for (const q of querySets) q.destroy();
    const dispatches = labels.map((label, i): ProfiledDispatch =>
      ({ label, ms: ticks[2 * i + 1] > ticks[2 * i] ? Number(ticks[2 * i + 1] - ticks[2 * i]) / 1e6 : 0, flops: flops[i] }));
    const agg = new Map<string, { ms: number; count: number; flops: number }>();
    for (const d of dispatches) {
      const k = key(d.label);
      const a = agg.get(k) ?? { ms: 0, count: 0, flops: 0 };
      a.ms += d.ms; a.count++; a.flops += d.flops;
      agg.set(k, a);
    }
    const rows = [...agg].map(([name, a]) => ({ name, ...a })).sort((a, b) => b.ms - a.ms);
    return { rows, dispatches, timed: pairs, total: this.counters.dispatches - before };
  }

  stats(): RuntimeStats { return { ...this.counters, pipelines: this.pipelineCache.created }; }

  /** Start a new peak (peakBytesInUse = what is in use now): the peak of one piece of work. */
  resetPeak(): void { this.counters.peakBytesInUse = this.counters.bytesInUse; }

  destroy(): void {
    this.endPass();
    this.encoder = null;
    this.device.destroy();
  }
}

function padTo4(data: ArrayBufferView): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return out;
}

/** One row of profileDispatches: a label (or its kernel), GPU ms and dispatches summed, and work. */
export interface ProfileRow { name: string; ms: number; count: number; flops: number }
/** One timed dispatch of profileDispatches, in recording order: its label, GPU ms and declared work (0: none). */
export interface ProfiledDispatch { label: string; ms: number; flops: number }
