// Planned step memory (src/backend/webgpu/memory_plan.ts): the region assignment on its own
// (allocations live at the same time never overlap in one buffer, allocations bound together are
// in different buffers, every region lies inside its buffer, and known cases come out optimal),
// then the runtime serving planned steps from an arena: the same buffers every step, fewer bytes
// than the pool, a step that changes falls back to the pool and is re-planned, a dispatch of such
// a step that binds two regions of one buffer still runs right, and evaluation between steps
// borrows the arena's buffers instead of creating its own.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AllocTrace, pairKey, planRegions, sameTrace, StepMemoryPlanner } from '../../src/backend/webgpu/memory_plan.js';
import type { GpuRuntime } from '../../src/backend/webgpu/runtime.js';
import type { GpuStorage } from '../../src/backend/webgpu/context.js';
import type { Backend } from '../../src/backend/backend.js';
import { keep, outsideScopes, tidy, type Tensor } from '../../src/tensor.js';
import * as op from '../../src/ops/index.js';
import { Rng } from '../../src/runtime/rng.js';
import { StepReplay } from '../../src/training/step_replay.js';
import { gpuBackendOrSkip } from '../helpers/gpu.js';

const SUITE = 'memory plan';
const rtOf = (be: Backend) => (be as unknown as { runtime: GpuRuntime }).runtime;
const round256 = (b: number) => Math.max(256, Math.ceil(b / 256) * 256);

/** Replay a script of allocations ('a', bytes[, unplannable]), releases ('r', index) and dispatches ('b', indices bound) into a trace. */
function traceOf(script: (['a', number] | ['a', number, 'upload'] | ['r', number] | ['b', number, number])[]): AllocTrace {
  const t = new AllocTrace();
  for (const s of script) {
    if (s[0] === 'a') t.alloc(s[1], s[2] !== 'upload');
    else if (s[0] === 'b') t.bind(s[1], s[2]);
    else t.release(s[1]);
  }
  t.close();
  return t;
}

/**
 * Allocations live at the same time do not overlap in a buffer, each region lies inside its buffer
 * at a 256-byte boundary, allocations bound together are in different buffers, uploads and
 * allocations held past the step are the pool's.
 */
function checkPlan(t: AllocTrace, round: (b: number) => number): void {
  const p = planRegions(t, round);
  const byBuffer = new Map<number, number[]>();
  for (let i = 0; i < t.length; i++) {
    const k = p.bufferOf[i];
    if (!t.plannable[i] || t.end[i] === Infinity) { assert.is(k, -1, `allocation ${i} is not the plan's`); continue; }
    assert.ok(k >= 0 && k < p.sizes.length, `allocation ${i} has a buffer`);
    assert.is(p.sizeOf[i], round(t.bytes[i]));
    assert.ok(p.offsetOf[i] % 256 === 0 && p.offsetOf[i] + p.sizeOf[i] <= p.sizes[k], `allocation ${i}: region ${p.offsetOf[i]}+${p.sizeOf[i]} in buffer ${k} of ${p.sizes[k]} B`);
    byBuffer.set(k, [...(byBuffer.get(k) ?? []), i]);
  }
  for (const [k, members] of byBuffer) {
    for (const i of members) for (const j of members) {
      if (i >= j) continue;
      assert.not.ok(t.together.has(pairKey(i, j)), `buffer ${k}: allocations ${i} and ${j} are bound together`);
      const inTime = t.start[i] < t.end[j] && t.start[j] < t.end[i];
      const inSpace = p.offsetOf[i] < p.offsetOf[j] + p.sizeOf[j] && p.offsetOf[j] < p.offsetOf[i] + p.sizeOf[i];
      assert.not.ok(inTime && inSpace, `buffer ${k}: allocations ${i} and ${j} overlap while both live`);
    }
  }
  assert.is(byBuffer.size, p.sizes.length, 'every buffer is used');
  assert.is(p.total, p.sizes.reduce((a, b) => a + b, 0));
  assert.ok(p.total >= p.lowerBound, `total ${p.total} under the lower bound ${p.lowerBound}`);
}

test('planRegions: a known case comes out at its lower bound; uploads and allocations held past the step are the pool\'s', () => {
  // A 512 B [0, 2), B 256 B [1, 4), C 512 B [3, 5): A and C share a buffer, B overlaps both.
  const t = traceOf([['a', 512], ['a', 256], ['r', 0], ['a', 500], ['r', 1], ['r', 2], ['a', 1024], ['a', 256, 'upload'], ['r', 4]]);
  const p = planRegions(t, round256);
  assert.equal([...p.bufferOf], [0, 1, 0, -1, -1]);
  assert.equal(p.sizes, [512, 256]);
  assert.is(p.total, 768);
  assert.is(p.lowerBound, 768);
  checkPlan(t, round256);
});

test('planRegions: smaller allocations live together share the buffer of a larger one, unless a dispatch binds them together', () => {
  // X 1024 B [0, 1); then Y and Z, 512 B each, live together: side by side in X's buffer.
  const script: (['a', number] | ['r', number])[] = [['a', 1024], ['r', 0], ['a', 512], ['a', 512], ['r', 1], ['r', 2]];
  const p = planRegions(traceOf(script), round256);
  assert.equal([...p.bufferOf], [0, 0, 0]);
  assert.equal([...p.offsetOf], [0, 0, 512]);
  assert.equal(p.sizes, [1024]);
  // Bound together by a dispatch (say Z = f(Y)), they may not share a buffer.
  const t = traceOf([['a', 1024], ['r', 0], ['a', 512], ['a', 512], ['b', 1, 2], ['r', 1], ['r', 2]]);
  const q = planRegions(t, round256);
  assert.equal([...q.bufferOf], [0, 0, 1]);
  assert.equal(q.sizes, [1024, 512]);
  checkPlan(t, round256);
});

test('planRegions: random traces give valid plans, deterministically', () => {
  const rng = new Rng(11);
  for (let trial = 0; trial < 200; trial++) {
    const t = new AllocTrace();
    const live: number[] = [];
    const steps = 5 + Math.floor(rng.uniform(0, 120));
    for (let s = 0; s < steps; s++) {
      if (live.length && rng.uniform(0, 1) < 0.45) {
        const at = Math.floor(rng.uniform(0, live.length));
        t.release(live.splice(at, 1)[0]);
      } else {
        const bytes = Math.floor(2 ** rng.uniform(2, 20));
        live.push(t.alloc(bytes, rng.uniform(0, 1) > 0.1));
        // a dispatch binding the new allocation with some of those live
        if (live.length > 1 && rng.uniform(0, 1) < 0.5) t.bind(live[live.length - 1], live[Math.floor(rng.uniform(0, live.length - 1))]);
      }
    }
    // some released after the step: not the plan's
    const late = live.slice(0, 2);
    t.close();
    for (const i of late) t.release(i);
    checkPlan(t, round256);
    const again = planRegions(t, round256);
    assert.equal(again, planRegions(t, round256));
  }
});

test('sameTrace: sizes, kinds, lifetimes and what was bound together all count', () => {
  const base: (['a', number] | ['r', number])[] = [['a', 100], ['a', 200], ['r', 0], ['r', 1]];
  assert.ok(sameTrace(traceOf(base), traceOf(base)));
  assert.not.ok(sameTrace(traceOf(base), traceOf([['a', 100], ['a', 200], ['b', 0, 1], ['r', 0], ['r', 1]])));
  assert.not.ok(sameTrace(traceOf(base), traceOf([['a', 100], ['a', 201], ['r', 0], ['r', 1]])));
  assert.not.ok(sameTrace(traceOf(base), traceOf([['a', 100], ['a', 200], ['r', 1], ['r', 0]])));
  assert.not.ok(sameTrace(traceOf(base), traceOf([['a', 100], ['a', 200, 'upload'], ['r', 0], ['r', 1]])));
  assert.not.ok(sameTrace(traceOf(base), traceOf([['a', 100], ['a', 200], ['r', 0]])));
});

/**
 * A step the online pool serves badly: y (200 KB) is held throughout; x1 (400 KB) is freed, then
 * x2 (600 KB) is asked for, too large for x1's free buffer: the pool creates another. The plan
 * puts x1, x2 and x3 in one buffer. With `change`, x2 asks for 900 KB instead.
 */
function sequential(rt: GpuRuntime, change = false): GpuStorage[][] {
  const held: GpuStorage[][] = [];
  const y = rt.alloc(200_000);
  for (const bytes of [400_000, change ? 900_000 : 600_000, 400_000]) {
    const x = rt.alloc(bytes);
    held.push([y, x]);
    rt.release(x);
  }
  rt.release(y);
  return held;
}

/** No two of these storages (live together) overlap. */
function disjoint(live: GpuStorage[]): void {
  for (const a of live) for (const b of live) {
    if (a === b || a.buffer !== b.buffer) continue;
    const ao = a.offset ?? 0, bo = b.offset ?? 0;
    assert.ok(ao + a.bytes <= bo || bo + b.bytes <= ao, 'two live allocations overlap');
  }
}

/** One step of `sequential` under the planner, checking that no two live allocations overlap. */
function plannedStep(rt: GpuRuntime, planner: StepMemoryPlanner, change = false): GpuStorage[][] {
  planner.begin();
  const held = sequential(rt, change);
  planner.end();
  for (const live of held) disjoint(live);
  return held;
}

// Pool buffers are size classes (eighths between powers of two): 212,992 B for y, 425,984 for
// x1 and x3, 655,360 for x2. Regions are whole 256-byte blocks: one buffer of 600,064 for the
// x's (y is live with each of them, and does not fit beside one), one of 200,192 for y.
const POOL = 212_992 + 425_984 + 655_360;
const PLAN = 600_064 + 200_192;

test('the runtime serves planned steps from one arena: the same buffers every step, and fewer bytes than the pool', async () => {
  const be = await gpuBackendOrSkip(SUITE);
  if (!be) return;
  const rt = rtOf(be);
  rt.trimPool();
  const base = rt.stats().bytesAllocated; // what other tests of this process still hold
  const planner = new StepMemoryPlanner(rt);
  const buffersOf: GPUBuffer[][] = [];
  for (let s = 0; s < 5; s++) {
    const before = rt.stats();
    const held = plannedStep(rt, planner);
    buffersOf.push(held.flat().map((x) => x.buffer));
    const after = rt.stats();
    if (s === 0) {
      assert.is(after.buffersCreated - before.buffersCreated, 3, 'the pool creates three buffers');
      assert.is(after.bytesAllocated - base, POOL);
    }
    if (s === 2) {
      // The arena takes the pool's buffers that fit its buffers closely (x2's for the x's, y's for
      // y), creates none, and x1's buffer is destroyed.
      assert.is(after.buffersCreated, before.buffersCreated, 'the arena created buffers');
      assert.is(after.bytesAllocated - base, 655_360 + 212_992);
      assert.is(new Set(held.map((live) => live[1].buffer)).size, 1, 'x1, x2 and x3 share a buffer');
    }
    if (s >= 3) {
      assert.is(after.buffersCreated, before.buffersCreated, `step ${s} created buffers`);
      assert.equal(buffersOf[s], buffersOf[2], `step ${s} got other buffers than step 2`);
    }
  }
  assert.equal(planner.stats, { built: 1, planned: 3, diverged: 0, arenaBytes: 655_360 + 212_992, planBytes: PLAN, lowerBound: PLAN });
  planner.release();
  rt.trimPool();
});

test('with no free buffer to take, the arena\'s buffers have the plan\'s exact sizes', async () => {
  const be = await gpuBackendOrSkip(SUITE);
  if (!be) return;
  const rt = rtOf(be);
  rt.trimPool();
  const base = rt.stats().bytesAllocated;
  const planner = new StepMemoryPlanner(rt);
  for (let s = 0; s < 2; s++) plannedStep(rt, planner);
  rt.trimPool();
  const held = plannedStep(rt, planner);
  assert.is(rt.stats().bytesAllocated - base, PLAN);
  assert.equal(held.map((live) => live.map((x) => x.buffer.size)), [[200_192, 600_064], [200_192, 600_064], [200_192, 600_064]]);
  assert.is(planner.stats.arenaBytes, PLAN);
  planner.release();
  rt.trimPool();
});

test('a step that changes leaves its plan part-way (the pool serves the rest), and a new plan forms from two equal steps', async () => {
  const be = await gpuBackendOrSkip(SUITE);
  if (!be) return;
  const rt = rtOf(be);
  rt.trimPool();
  const planner = new StepMemoryPlanner(rt);
  const run = (change: boolean) => plannedStep(rt, planner, change);
  for (let s = 0; s < 3; s++) run(false);
  assert.equal([planner.stats.built, planner.stats.planned, planner.stats.diverged], [1, 1, 0]);
  run(true); // x2 asks for 900 KB: the plan ends there
  assert.equal([planner.stats.built, planner.stats.planned, planner.stats.diverged], [1, 1, 1]);
  run(true); // one changed step is not enough for a new plan (the last two traces differ)
  assert.is(planner.stats.built, 1);
  run(true); // two equal steps in a row: planned again
  assert.is(planner.stats.built, 2);
  run(true);
  assert.equal([planner.stats.built, planner.stats.planned, planner.stats.diverged], [2, 3, 1]);
  assert.is(planner.stats.planBytes, 900_096 + 200_192);
  planner.release();
  rt.trimPool();
});

test('a step that left its plan may bind two regions of one buffer in a dispatch: read-only together they stay, read against written one goes through a scratch buffer, and the values are right', async () => {
  const be = await gpuBackendOrSkip(SUITE);
  if (!be) return;
  const rt = rtOf(be);
  rt.trimPool();
  const planner = new StepMemoryPlanner(rt);
  const x = outsideScopes(() => keep(op.tensor(Float32Array.from({ length: 1024 }, (_, i) => i - 300), [1024], { backend: be })));
  // a (8 KB) is gone before b and c (4 KB each, live together, never bound together) are made:
  // the plan puts b and c side by side in a's buffer.
  const step = (diverge: boolean): Tensor[] => {
    planner.begin();
    const out: Tensor[] = [];
    tidy(() => {
      op.concat([x, x], 0).dispose();
      const b = op.mulScalar(x, 2), c = op.mulScalar(x, 3);
      if (!diverge) return;
      // Requests past the trace (the rest of the step is the pool's). The add reads b and c:
      // two read-only bindings may share a buffer. The copy reads b and writes c: they may not.
      out.push(keep(op.add(b, c)));
      be.copyInto(c, 0, b);
      out.push(keep(op.add(b, c)));
    });
    planner.end();
    return out;
  };
  for (let s = 0; s < 3; s++) step(false);
  const plan = planner.stats;
  assert.equal([plan.built, plan.planned, plan.diverged], [1, 1, 0]);
  const moved0 = rt.stats().regionsSeparated;
  const [sum, after] = step(true);
  assert.is(rt.stats().regionsSeparated - moved0, 1, 'one region moved, for the copy only');
  assert.is(planner.stats.diverged, 1);
  assert.equal([...(await sum.data())], Array.from({ length: 1024 }, (_, i) => 5 * (i - 300)));
  assert.equal([...(await after.data())], Array.from({ length: 1024 }, (_, i) => 4 * (i - 300)));
  for (const t of [sum, after, x]) t.dispose();
  planner.release();
  rt.trimPool();
});

test('work between steps borrows a released arena\'s buffers, and the next step takes them back without creating any', async () => {
  const be = await gpuBackendOrSkip(SUITE);
  if (!be) return;
  const rt = rtOf(be);
  rt.trimPool();
  const planner = new StepMemoryPlanner(rt);
  const step = () => plannedStep(rt, planner);
  for (let s = 0; s < 2; s++) step();
  rt.trimPool(); // so that the arena has the plan's exact sizes, between size classes
  step();
  const created = rt.stats().buffersCreated;
  planner.release();
  // "evaluation": 590 KB and 150 KB, held together, then let go. Their size classes (655,360 and
  // 163,840 B) have no free buffer; the pool looks from the size asked and finds the arena's.
  const x = rt.alloc(590_000), y = rt.alloc(150_000);
  assert.equal([x.buffer.size, y.buffer.size], [600_064, 200_192]);
  rt.release(x); rt.release(y);
  step();
  step();
  assert.is(rt.stats().buffersCreated, created, 'buffers were created after the arena was released');
  assert.is(planner.stats.built, 2);
  assert.is(planner.stats.diverged, 0);
  planner.release();
  rt.trimPool();
});

/** A small MLP's training step (forward, backward, SGD), with the batch written before the step. */
function mlp(be: Backend) {
  const rng = new Rng(5);
  return outsideScopes(() => ({
    w1: keep(op.randn([13, 40], rng, { backend: be, std: 0.3, requiresGrad: true })),
    w2: keep(op.randn([40, 7], rng, { backend: be, std: 0.3, requiresGrad: true })),
    x: keep(op.zeros([11, 13], { backend: be })),
  }));
}

async function trainMlp(be: Backend, replay: StepReplay, steps: number): Promise<number[]> {
  const m = mlp(be);
  const params = [m.w1, m.w2];
  const held: Tensor[] = [];
  for (let s = 0; s < steps; s++) {
    const rng = new Rng(50 + s);
    be.write(m.x, Float32Array.from({ length: 11 * 13 }, () => rng.uniform(-1, 1)));
    held.push(replay.run('', () => tidy(() => {
      const h = op.relu(op.matmul(m.x, params[0]));
      const y = op.matmul(h, params[1]);
      const loss = op.mean(op.square(y));
      const grads = op.grad(loss, params);
      params.forEach((p, i) => be.copyInto(p, 0, op.sub(p, op.mulScalar(grads[i]!, 0.2))));
      return { loss };
    })).loss);
    be.submit?.();
  }
  const losses: number[] = [];
  for (const t of held) { losses.push(await t.item()); t.dispose(); }
  replay.releaseMemory();
  for (const t of Object.values(m)) t.dispose();
  return losses;
}

test('training steps planned and replayed give exactly what unplanned recorded steps give', async () => {
  const be = await gpuBackendOrSkip(SUITE);
  if (!be) return;
  const rt = rtOf(be);
  rt.trimPool();
  const ref = await trainMlp(be, new StepReplay(be, { enabled: false, memoryPlan: false }), 8);
  for (const enabled of [false, true]) {
    rt.trimPool();
    const replay = new StepReplay(be, { enabled, memoryPlan: true });
    const got = await trainMlp(be, replay, 8);
    assert.equal(got, ref, `replay ${enabled}`);
    const m = replay.memoryStats!;
    assert.ok(m.built === 1 && m.diverged === 0 && m.planned >= (enabled ? 2 : 6), `replay ${enabled}: ${JSON.stringify(m)}`);
    if (enabled) assert.ok(replay.stats.replayed >= 4, `replayed ${replay.stats.replayed} of 8`);
  }
  assert.ok(new Set(ref).size === ref.length, `a different loss each step: ${ref}`);
  rt.trimPool();
});

test.run();
