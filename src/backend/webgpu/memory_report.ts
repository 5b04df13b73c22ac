// What a training step holds at its peak, by the source line that allocated it: the question to
// ask before trying to make a step smaller (`coengine bench step --memory-peak`). The runtime notes
// each traced allocation's origin only when asked (GpuRuntime.traceOrigins): a stack trace per
// allocation costs far more host time than the allocation itself.
import type { AllocTrace } from './memory_plan.js';

/** Engine internals a stack passes through on the way to the line worth naming. */
const INTERNAL = /^(backend|runtime)\/|^tensor\.[jt]s$/;

/**
 * A short origin for an allocation from its stack (Error.stack): the op that made it (its line in
 * src/ops/) and the two nearest callers outside the engine's internals, e.g.
 * `ops/norm.ts:26 ← nn/layers.ts:88 ← models/blocks.ts:103`. An allocation made while the tape
 * runs a gradient ends in `(backward)` instead of callers, which would all be the tape's.
 */
export function allocationOrigin(stack: string | undefined): string {
  const parts: string[] = [];
  let op: string | null = null;
  for (const line of (stack ?? '').split('\n').slice(1)) {
    const m = /\/src\/([^():]+\.[jt]s):(\d+)/.exec(line);
    if (!m) continue;
    const file = m[1], at = `${file}:${m[2]}`;
    if (INTERNAL.test(file)) continue;
    if (file.startsWith('ops/')) { op ??= at; continue; }
    if (file.startsWith('autograd/')) { parts.push('(backward)'); break; }
    parts.push(at);
    if (parts.length === 2) break;
  }
  return [op, ...parts].filter((p): p is string => p !== null).join(' ← ') || '(unknown)';
}

/** The stack at the caller, with source-mapped positions where the build has maps. */
export function captureOrigin(): string {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 40; // a model's forward is more than the default 10 frames deep
  const stack = new Error().stack;
  Error.stackTraceLimit = limit;
  return allocationOrigin(stack);
}

export interface MemoryPeakGroup {
  origin: string;
  /** Allocations from this origin live at the peak. */
  count: number;
  bytes: number;
}

export interface MemoryPeakReport {
  /** The most bytes the step's planned allocations held at one time. */
  peakBytes: number;
  /** Allocations live at the peak, grouped by origin, largest first. */
  groups: MemoryPeakGroup[];
}

/**
 * The peak of a traced step and what is live there. Only its planned allocations count: uploads
 * and what outlives the step are left out, as the plan leaves them, so no plan can take less than
 * the peak. Origins come from the trace when it was taken with them, else every group is
 * '(origin not traced)'.
 */
export function memoryPeak(t: AllocTrace): MemoryPeakReport {
  const planned: number[] = [];
  for (let i = 0; i < t.length; i++) if (t.plannable[i] && t.end[i] !== Infinity) planned.push(i);
  // Event times are distinct (one clock for allocations and releases), so a sweep in time order
  // sees each moment's live set exactly.
  const events: [number, number][] = [];
  for (const i of planned) events.push([t.start[i], t.bytes[i]], [t.end[i], -t.bytes[i]]);
  events.sort((a, b) => a[0] - b[0]);
  let live = 0, peakBytes = 0, peakAt = -1;
  for (const [at, d] of events) { live += d; if (live > peakBytes) { peakBytes = live; peakAt = at; } }
  const groups = new Map<string, MemoryPeakGroup>();
  for (const i of planned) {
    if (t.start[i] > peakAt || t.end[i] <= peakAt) continue;
    const origin = t.origins?.[i] ?? '(origin not traced)';
    const g = groups.get(origin) ?? { origin, count: 0, bytes: 0 };
    g.count++;
    g.bytes += t.bytes[i];
    groups.set(origin, g);
  }
  return { peakBytes, groups: [...groups.values()].sort((a, b) => b.bytes - a.bytes || (a.origin < b.origin ? -1 : 1)) };
}
