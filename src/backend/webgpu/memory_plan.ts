// Planned memory for repeated training steps. The pool (runtime.ts) hands out buffers as tensors
// are asked for, knowing nothing of what comes later: a buffer freed early may be too small for
// the next request, which then creates another, and its size classes round each buffer up. A
// ResNet step's buffers came to about a third more than the most the step holds at once (BYOL
// ResNet-50, CO-BYOL RF99-ResNet50; bench/RESULTS.md, fifteenth session).
//
// A training step makes the same requests in the same order every time. So the runtime traces
// one step's allocations (size, when each was released, and which ones a dispatch bound one
// read-only and the other writable), and plans the next: largest first, each allocation takes a
// region (an offset) of the first buffer where one is clear of everything placed there that lives
// at the same time, or else a new buffer of its own size (TFLite's "greedy by size", with offsets
// inside buffers sized like tensors). A buffer thus holds its largest tensor at one time and several smaller ones side
// by side at another. Whole buffers per tensor (the fifteenth session's plan) stayed about 11%
// above the most a ResNet step holds at once: the largest things live at one moment are not the
// largest at another. Buffers the size of tensors, not a few big ones, because the arena is built
// from the pool's free buffers (runtime.ts, buildArena) and evaluation borrows its buffers.
//
// WebGPU forbids binding one buffer writable and read-only in a dispatch, whatever the ranges:
// allocations one dispatch binds that way (binding_access.ts) go into different buffers.
//
// The plan is checked as it is used: each request must have the size the trace had, and its region
// must be clear. The first request that differs, or finds its region overlapped by one held, ends
// planning for the rest of that step (the pool serves it), so a step that changed is correct, only
// unplanned. Such a step may still bind two regions of one buffer in a dispatch the trace never
// had; the runtime then moves one through a scratch buffer for that dispatch (runtime.ts,
// separateRegions).
import { BackendError } from '../../runtime/errors.js';

/** One step's allocations, in the order they were made. */
export class AllocTrace {
  readonly bytes: number[] = [];
  /** false: served by the pool whatever the plan (uploads, whose writes overtake recorded work). */
  readonly plannable: boolean[] = [];
  /** Event times (allocations and releases counted together) of each allocation and release. */
  readonly start: number[] = [];
  /** Infinity while held: an allocation still held when the step ended is left to the pool. */
  readonly end: number[] = [];
  /** Where each allocation was made (memory_report.ts), when the runtime traces origins; else null. */
  origins: string[] | null = null;
  /** Pairs of allocations one dispatch bound, one read-only and one writable (pairKey): a plan puts them in different buffers. */
  readonly together = new Set<number>();
  private clock = 0;
  private closed = false;
  /** planRegions' result, made once per trace (a dissolved arena is rebuilt from it). */
  plan: RegionPlan | null = null;

  get length(): number { return this.bytes.length; }

  alloc(bytes: number, plannable: boolean, origin?: string): number {
    if (origin !== undefined) (this.origins ??= new Array<string>(this.bytes.length).fill('(origin not traced)')).push(origin);
    this.bytes.push(bytes);
    this.plannable.push(plannable);
    this.start.push(this.clock++);
    this.end.push(Infinity);
    return this.bytes.length - 1;
  }

  release(i: number): void {
    if (!this.closed) this.end[i] = this.clock++;
  }

  /** One dispatch bound allocations i and j (distinct) so that they may not share a buffer. */
  bind(i: number, j: number): void {
    if (!this.closed) this.together.add(pairKey(i, j));
  }

  /** The step is over: later releases leave their allocations unplanned. */
  close(): void { this.closed = true; }
}

const PAIR = 2 ** 26; // allocations per step: far more than a training step makes
/** One number for an unordered pair of allocation indices. */
export function pairKey(i: number, j: number): number {
  if (Math.max(i, j) >= PAIR) throw new BackendError(`step memory plan: more than ${PAIR} allocations in one step`);
  return i < j ? i * PAIR + j : j * PAIR + i;
}

/** The same requests with the same lifetimes: a plan made from one fits the other. */
export function sameTrace(a: AllocTrace, b: AllocTrace): boolean {
  if (a === b) return true;
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) {
    if (a.bytes[i] !== b.bytes[i] || a.plannable[i] !== b.plannable[i] || a.start[i] !== b.start[i] || a.end[i] !== b.end[i]) return false;
  }
  if (a.together.size !== b.together.size) return false;
  for (const k of a.together) if (!b.together.has(k)) return false;
  return true;
}

export interface RegionPlan {
  /** Each allocation's buffer, or -1: left to the pool (an upload, or held past the step). */
  bufferOf: Int32Array;
  /** Byte offset of each planned allocation in its buffer. */
  offsetOf: Float64Array;
  /** Bytes of each planned allocation's region (its size rounded). */
  sizeOf: Float64Array;
  /** Bytes of each buffer (largest first: a buffer is the size of the first allocation placed in it). */
  sizes: number[];
  /** Sum of sizes. */
  total: number;
  /** The most bytes the planned allocations hold at one time (rounded as regions are): no plan can do with less. */
  lowerBound: number;
}

/**
 * Place the trace's allocations: largest first (ties by start), each in the first buffer with a
 * gap for it (the lowest offset clear of every allocation placed there that lives at the same
 * time), unless that buffer holds an allocation it may not share one with (AllocTrace.together);
 * else in a new buffer of its own size. Deterministic.
 */
export function planRegions(t: AllocTrace, round: (bytes: number) => number): RegionPlan {
  const n = t.length;
  const bufferOf = new Int32Array(n).fill(-1);
  const offsetOf = new Float64Array(n), sizeOf = new Float64Array(n);
  const order: number[] = [];
  for (let i = 0; i < n; i++) {
    if (!t.plannable[i] || t.end[i] === Infinity) continue;
    order.push(i);
    sizeOf[i] = round(t.bytes[i]);
  }
  order.sort((a, b) => sizeOf[b] - sizeOf[a] || t.start[a] - t.start[b]);
  const partners = new Map<number, number[]>();
  for (const key of t.together) {
    const i = Math.floor(key / PAIR), j = key - i * PAIR;
    for (const [x, y] of [[i, j], [j, i]]) { const l = partners.get(x); if (l) l.push(y); else partners.set(x, [y]); }
  }
  const members: number[][] = [], sizes: number[] = [];
  for (const i of order) {
    const s = t.start[i], e = t.end[i], b = sizeOf[i];
    const barred = new Set<number>();
    for (const j of partners.get(i) ?? []) if (bufferOf[j] >= 0) barred.add(bufferOf[j]);
    let at = -1, off = 0;
    for (let k = 0; k < sizes.length && at < 0; k++) {
      if (barred.has(k)) continue;
      const live = members[k].filter((j) => t.start[j] < e && s < t.end[j]).sort((x, y) => offsetOf[x] - offsetOf[y]);
      off = 0;
      for (const j of live) {
        if (off + b <= offsetOf[j]) break;
        off = Math.max(off, offsetOf[j] + sizeOf[j]);
      }
      if (off + b <= sizes[k]) at = k;
    }
    if (at < 0) { at = sizes.length; off = 0; sizes.push(b); members.push([]); }
    bufferOf[i] = at;
    offsetOf[i] = off;
    members[at].push(i);
  }
  // The lower bound: a sweep over the planned lifetimes.
  const events: [number, number][] = [];
  for (const i of order) events.push([t.start[i], sizeOf[i]], [t.end[i], -sizeOf[i]]);
  events.sort((a, b) => a[0] - b[0]);
  let live = 0, lowerBound = 0;
  for (const [, d] of events) { live += d; lowerBound = Math.max(lowerBound, live); }
  return { bufferOf, offsetOf, sizeOf, sizes, total: sizes.reduce((a, b) => a + b, 0), lowerBound };
}

/** A planned allocation's place: a region of an arena buffer. */
export interface Region { buffer: GPUBuffer; offset: number; bytes: number }

/** The buffers of a plan, and which of their regions are held. Made by the runtime (buildArena). */
export class StepArena {
  /** false once dissolved (its buffers went back to the pool, or will as they are released). */
  live = true;
  /** Bytes of its buffers: the plan's, or more where a buffer is a slightly larger pool buffer. */
  readonly bytes: number;
  /** Per buffer, the allocations whose regions are held now. */
  private readonly held: Set<number>[];
  /** Per buffer: kept by a step plan (step_log.ts) for its replays, so none of its regions may be taken. */
  private readonly reserved: Uint8Array;
  private readonly indexOfBuffer = new Map<GPUBuffer, number>();

  constructor(readonly trace: AllocTrace, readonly plan: RegionPlan, readonly buffers: GPUBuffer[]) {
    this.held = buffers.map(() => new Set<number>());
    this.reserved = new Uint8Array(buffers.length);
    buffers.forEach((b, k) => this.indexOfBuffer.set(b, k));
    this.bytes = buffers.reduce((a, b) => a + b.size, 0);
  }

  /** Allocation i's region, now held, unless its buffer is reserved or a held region overlaps it. */
  take(i: number): Region | undefined {
    const p = this.plan, k = p.bufferOf[i];
    if (k < 0 || this.reserved[k]) return undefined;
    const lo = p.offsetOf[i], hi = lo + p.sizeOf[i];
    const held = this.held[k];
    // Any held region overlapping this one (i itself included, were it still held) refuses it.
    for (const j of held) if (p.offsetOf[j] < hi && lo < p.offsetOf[j] + p.sizeOf[j]) return undefined;
    held.add(i);
    return { buffer: this.buffers[k], offset: lo, bytes: p.sizeOf[i] };
  }

  /** Allocation i's region is free again; true when that leaves its buffer with nothing held or reserved. */
  giveBack(i: number): boolean {
    const k = this.plan.bufferOf[i];
    if (k < 0 || !this.held[k].delete(i)) throw new BackendError('step memory plan: a region was given back that was not held');
    return this.isFreeAt(k);
  }

  /** A step plan (step_log.ts) keeps free buffer b for its replays. */
  reserve(b: GPUBuffer): void { this.setReserved(b, true); }

  unreserve(b: GPUBuffer): void { this.setReserved(b, false); }

  /** Nothing of buffer b is held or reserved. */
  isFree(b: GPUBuffer): boolean {
    const k = this.indexOfBuffer.get(b);
    return k !== undefined && this.isFreeAt(k);
  }

  private isFreeAt(k: number): boolean { return this.held[k].size === 0 && !this.reserved[k]; }

  private setReserved(b: GPUBuffer, on: boolean): void {
    const k = this.indexOfBuffer.get(b);
    if (k === undefined || this.held[k].size > 0 || !!this.reserved[k] === on) {
      throw new BackendError('step memory plan: an arena buffer changed hands out of turn');
    }
    this.reserved[k] = on ? 1 : 0;
  }
}

/** One planned (or traced) step in progress: serves its allocations from the arena while they match. */
export class StepWindow {
  readonly trace = new AllocTrace();
  /** A request differed from the arena's trace, or found its region overlapped: the pool serves the rest. */
  diverged = false;

  constructor(readonly arena: StepArena | null) {}

  /** The region for this step's next allocation, or undefined for the pool. */
  alloc(bytes: number, plannable: boolean, origin?: string): { index: number; region: Region | undefined } {
    const index = this.trace.alloc(bytes, plannable, origin);
    const a = this.arena;
    if (!a || !a.live || this.diverged) return { index, region: undefined };
    const t = a.trace;
    if (index >= t.length || t.bytes[index] !== bytes || t.plannable[index] !== plannable) {
      this.diverged = true;
      return { index, region: undefined };
    }
    if (a.plan.bufferOf[index] < 0) return { index, region: undefined };
    const region = a.take(index);
    if (!region) this.diverged = true;
    return { index, region };
  }
}

/** What the planner needs of the runtime (GpuRuntime implements it). */
export interface StepMemoryHost {
  /** Trace the allocations from now on, serving them from `arena` while they match its trace. */
  beginStepMemory(arena: StepArena | null): void;
  /** End the step: its trace (closed) and whether it left its plan. */
  endStepMemory(): StepWindow;
  /** Buffers for the trace's plan: the pool's free buffers where one fits closely, else new ones. The rest of the free pool is destroyed. */
  buildArena(trace: AllocTrace): StepArena;
  /** Give an arena's buffers back to the pool (now for the free ones, on release for the held). */
  dissolveArena(arena: StepArena): void;
}

export interface StepMemoryStats {
  /** Arenas built (the first, and again after a step changed or evaluation borrowed the buffers). */
  built: number;
  /** Steps that ran on an arena to their end. */
  planned: number;
  /** Steps whose requests left the arena's trace part-way. */
  diverged: number;
  /**
   * The last arena built: its buffers' bytes, its plan's (buffers of exact size), and the most its
   * step holds at one time (planRegions' lowerBound).
   */
  arenaBytes: number;
  planBytes: number;
  lowerBound: number;
}

/**
 * When to plan. A step's trace plans the next steps, except the first step's: it also makes what
 * later steps find made (optimiser state, constants built on first use), so its requests are not
 * theirs. After a planned step left its plan, a new plan needs two steps in a row with the same
 * trace, so that a step whose requests keep changing does not rebuild an arena every time.
 */
export class StepMemoryPlanner {
  private arena: StepArena | null = null;
  private last: AllocTrace | null = null;
  private previous: AllocTrace | null = null;
  private strict = false;
  private open = false;
  /** Steps traced to their end since the planner was made, or since a step threw. */
  private traced = 0;
  /** The last step ran on the arena to its end. */
  private lastPlanned = false;
  readonly stats: StepMemoryStats = { built: 0, planned: 0, diverged: 0, arenaBytes: 0, planBytes: 0, lowerBound: 0 };

  constructor(private readonly host: StepMemoryHost) {}

  /** The last step traced to its end (the trace the next plan comes from), or null. */
  get lastTrace(): AllocTrace | null { return this.last; }

  /**
   * The last step ran on the plan the next one will run on: its buffers are those of the steps to
   * come, so its commands may be replayed (step_replay.ts). Also true when no plan is coming.
   */
  get settled(): boolean {
    if (this.open) return false;
    if (this.arena) return this.arena.live && this.lastPlanned;
    return !this.wouldBuild();
  }

  private wouldBuild(): boolean {
    const last = this.last;
    return last !== null && this.traced >= 2 && last.plannable.some((p, i) => p && last.end[i] !== Infinity) &&
      (!this.strict || (this.previous !== null && sameTrace(this.previous, last)));
  }

  /** Before a step's body runs. */
  begin(): void {
    let a = this.arena;
    if (a && (!a.live || (this.last && !sameTrace(a.trace, this.last)))) { this.release(); a = null; }
    if (!a && this.wouldBuild()) {
      a = this.arena = this.host.buildArena(this.last!);
      this.stats.built++;
      this.stats.arenaBytes = a.bytes;
      this.stats.planBytes = a.plan.total;
      this.stats.lowerBound = a.plan.lowerBound;
    }
    this.host.beginStepMemory(a);
    this.open = true;
  }

  /** After the step's body, with its outputs released. `completed` false: the body threw. */
  end(completed = true): void {
    if (!this.open) return;
    this.open = false;
    const w = this.host.endStepMemory();
    this.lastPlanned = false;
    if (!completed) { this.last = this.previous = null; this.traced = 0; return; }
    if (w.arena) {
      this.lastPlanned = !w.diverged && sameTrace(w.arena.trace, w.trace);
      if (!this.lastPlanned) { this.stats.diverged++; this.strict = true; }
      else { this.stats.planned++; this.strict = false; }
    }
    this.previous = this.last;
    this.last = w.trace;
    this.traced++;
  }

  /** Hand the arena's buffers to the pool (for evaluation, say); the next step rebuilds it from the last trace. */
  release(): void {
    if (this.arena?.live) this.host.dissolveArena(this.arena);
    this.arena = null;
  }
}
