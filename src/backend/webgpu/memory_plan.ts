// Planned memory for repeated training steps. The pool (runtime.ts) hands out buffers as tensors
// are asked for, knowing nothing of what comes later: a buffer freed early may be too small for
// the next request, which then creates another, and its size classes round each buffer up. A
// ResNet step's buffers came to about a third more than the most the step holds at once (BYOL
// ResNet-50, CO-BYOL RF99-ResNet50; bench/RESULTS.md, fifteenth session).
//
// A training step makes the same requests in the same order every time. So the runtime traces
// one step's allocations (size, and when each was released), and plans the next: allocations
// whose lifetimes never overlap share a buffer ("slot") sized for the largest of them, chosen
// greedily, largest first (the "greedy by size" assignment of TFLite's memory planner). The
// planned step then takes its slots in order. Whole buffers are shared, not regions of one: a
// dispatch may not bind one buffer both read-only and writable, which regions of a shared
// arena could not avoid.
//
// The plan is checked as it is used: each request must have the size the trace had, and its slot
// must be free. The first request that differs, or finds its slot held, ends planning for the
// rest of that step (the pool serves it), so a step that changed is correct, only unplanned.
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
  private clock = 0;
  private closed = false;
  /** planSlots' result, made once per trace (a dissolved arena is rebuilt from it). */
  plan: SlotPlan | null = null;

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

  /** The step is over: later releases leave their allocations unplanned. */
  close(): void { this.closed = true; }
}

/** The same requests with the same lifetimes: a plan made from one fits the other. */
export function sameTrace(a: AllocTrace, b: AllocTrace): boolean {
  if (a === b) return true;
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) {
    if (a.bytes[i] !== b.bytes[i] || a.plannable[i] !== b.plannable[i] || a.start[i] !== b.start[i] || a.end[i] !== b.end[i]) return false;
  }
  return true;
}

export interface SlotPlan {
  /** Each allocation's slot, or -1: left to the pool (an upload, or held past the step). */
  slotOf: Int32Array;
  /** Bytes of each slot. */
  sizes: number[];
  /** Sum of sizes. */
  total: number;
  /** The most bytes the planned allocations hold at one time (rounded as slots are): no plan can do with less. */
  lowerBound: number;
}

/**
 * Assign the trace's allocations to slots: largest first, each to the smallest slot free for its
 * whole lifetime, else to a new slot of its (rounded) size. Largest first means a slot is never
 * smaller than what it is given. Deterministic: ties go by start time and slot number.
 */
export function planSlots(t: AllocTrace, round: (bytes: number) => number): SlotPlan {
  const n = t.length;
  const slotOf = new Int32Array(n).fill(-1);
  const order: number[] = [];
  for (let i = 0; i < n; i++) if (t.plannable[i] && t.end[i] !== Infinity) order.push(i);
  const need = new Float64Array(n); // each planned allocation's rounded size
  for (const i of order) need[i] = round(t.bytes[i]);
  order.sort((a, b) => need[b] - need[a] || t.start[a] - t.start[b]);
  // Per slot, its lifetimes sorted by start: free over [s, e) iff the neighbours around s allow it.
  const sizes: number[] = [], starts: number[][] = [], ends: number[][] = [];
  for (const i of order) {
    const s = t.start[i], e = t.end[i];
    // Slots are made largest first, so the last free one is the smallest that is free.
    let best = -1, bestAt = 0;
    for (let k = sizes.length - 1; k >= 0 && best < 0; k--) {
      const st = starts[k], en = ends[k];
      let lo = 0, hi = st.length; // the first lifetime starting after s
      while (lo < hi) { const mid = (lo + hi) >> 1; if (st[mid] < s) lo = mid + 1; else hi = mid; }
      if ((lo > 0 && en[lo - 1] > s) || (lo < st.length && st[lo] < e)) continue;
      best = k; bestAt = lo;
    }
    if (best < 0) {
      best = sizes.length; bestAt = 0;
      sizes.push(need[i]); starts.push([]); ends.push([]);
    }
    starts[best].splice(bestAt, 0, s);
    ends[best].splice(bestAt, 0, e);
    slotOf[i] = best;
  }
  // The lower bound: a sweep over the planned lifetimes.
  const events: [number, number][] = [];
  for (const i of order) events.push([t.start[i], need[i]], [t.end[i], -need[i]]);
  events.sort((a, b) => a[0] - b[0]);
  let live = 0, lowerBound = 0;
  for (const [, d] of events) { live += d; lowerBound = Math.max(lowerBound, live); }
  return { slotOf, sizes, total: sizes.reduce((a, b) => a + b, 0), lowerBound };
}

const FREE = 0, HELD = 1, RESERVED = 2;

/** The buffers of a plan, one per slot, and which of them are taken. Made by the runtime (buildArena). */
export class StepArena {
  /** false once dissolved (its buffers went back to the pool, or will as they are released). */
  live = true;
  /** Bytes of its buffers: the plan's, or more where a slot took a slightly larger pool buffer. */
  readonly bytes: number;
  private readonly state: Uint8Array;
  private readonly slotOfBuffer = new Map<GPUBuffer, number>();

  constructor(readonly trace: AllocTrace, readonly plan: SlotPlan, readonly buffers: GPUBuffer[]) {
    this.state = new Uint8Array(buffers.length);
    buffers.forEach((b, k) => this.slotOfBuffer.set(b, k));
    this.bytes = buffers.reduce((a, b) => a + b.size, 0);
  }

  /** The slot's buffer, now held, if it was free; undefined otherwise. */
  take(slot: number): GPUBuffer | undefined {
    if (this.state[slot] !== FREE) return undefined;
    this.state[slot] = HELD;
    return this.buffers[slot];
  }

  giveBack(b: GPUBuffer): void { this.set(b, HELD, FREE); }

  /** A step plan (step_log.ts) keeps free slot b for its replays. */
  reserve(b: GPUBuffer): void { this.set(b, FREE, RESERVED); }

  unreserve(b: GPUBuffer): void { this.set(b, RESERVED, FREE); }

  isFree(b: GPUBuffer): boolean { return this.state[this.slotOfBuffer.get(b) ?? -1] === FREE; }

  private set(b: GPUBuffer, from: number, to: number): void {
    const k = this.slotOfBuffer.get(b);
    if (k === undefined || this.state[k] !== from) throw new BackendError('step memory plan: a slot buffer changed hands out of turn');
    this.state[k] = to;
  }
}

/** One planned (or traced) step in progress: serves its allocations from the arena while they match. */
export class StepWindow {
  readonly trace = new AllocTrace();
  /** A request differed from the arena's trace, or found its slot held: the pool serves the rest. */
  diverged = false;

  constructor(readonly arena: StepArena | null) {}

  /** The buffer for this step's next allocation: its slot's, or undefined for the pool. */
  alloc(bytes: number, plannable: boolean, origin?: string): { index: number; buffer: GPUBuffer | undefined } {
    const index = this.trace.alloc(bytes, plannable, origin);
    const a = this.arena;
    if (!a || !a.live || this.diverged) return { index, buffer: undefined };
    const t = a.trace;
    if (index >= t.length || t.bytes[index] !== bytes || t.plannable[index] !== plannable) {
      this.diverged = true;
      return { index, buffer: undefined };
    }
    const slot = a.plan.slotOf[index];
    if (slot < 0) return { index, buffer: undefined };
    const buffer = a.take(slot);
    if (!buffer) this.diverged = true;
    return { index, buffer };
  }
}

/** What the planner needs of the runtime (GpuRuntime implements it). */
export interface StepMemoryHost {
  /** Trace the allocations from now on, serving them from `arena` while they match its trace. */
  beginStepMemory(arena: StepArena | null): void;
  /** End the step: its trace (closed) and whether it left its plan. */
  endStepMemory(): StepWindow;
  /** Buffers for the trace's plan: the pool's free buffers where one fits a slot closely, else new ones. The rest of the free pool is destroyed. */
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
   * The last arena built: its buffers' bytes, its plan's (slots of exact size), and the most its
   * step holds at one time (planSlots' lowerBound).
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
