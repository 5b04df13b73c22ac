// Step replay (src/training/step_replay.ts, src/backend/webgpu/step_log.ts): replayed steps give
// exactly what recording every step gives, per-step data reaches a replay through written
// tensors, work that varies never replays, and a plan's buffers stay its own.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend } from '../../src/backend/backend.js';
import type { GpuRuntime } from '../../src/backend/webgpu/runtime.js';
import type { GpuStorage } from '../../src/backend/webgpu/context.js';
import { sameLog } from '../../src/backend/webgpu/step_log.js';
import { keep, outsideScopes, tidy, type Tensor } from '../../src/tensor.js';
import * as op from '../../src/ops/index.js';
import { Rng } from '../../src/runtime/rng.js';
import { StepReplay } from '../../src/training/step_replay.js';
import { gpuBackendOrSkip } from '../helpers/gpu.js';

const SUITE = 'step replay';
const rtOf = (be: Backend) => (be as unknown as { runtime: GpuRuntime }).runtime;

/** A linear model trained by hand-written SGD; the batch is written into `x` before each step. */
function model(be: Backend) {
  const rng = new Rng(3);
  return outsideScopes(() => ({
    w: keep(op.randn([7, 5], rng, { backend: be, requiresGrad: true })),
    x: keep(op.zeros([9, 7], { backend: be })),
    target: keep(op.randn([9, 5], rng, { backend: be })),
  }));
}

function batch(step: number): Float32Array {
  const rng = new Rng(100 + step);
  return Float32Array.from({ length: 63 }, () => rng.uniform(-1, 1));
}

/**
 * One step's body: loss, gradient, in-place update. `scale` enters as a number (a uniform); a
 * constant is uploaded inside the step (its buffer is reused later in the step, so a replay
 * must upload it again).
 */
function body(be: Backend, m: ReturnType<typeof model>, scale = 1): Record<string, Tensor> {
  return tidy(() => {
    const y = tidy(() => { // gain's buffer goes back to the pool here and is reused by what follows
      const gain = op.tensor(Float32Array.from({ length: 5 }, (_, i) => 1 + i / 8), [5], { backend: be });
      return op.mul(op.relu(op.matmul(op.mulScalar(m.x, scale), m.w)), gain);
    });
    const loss = op.mean(op.square(op.sub(y, m.target)));
    const [gw] = op.grad(loss, [m.w]);
    be.copyInto(m.w, 0, op.sub(m.w, op.mulScalar(gw!, 0.1)));
    return { loss, norm: op.sum(op.square(m.w)) };
  });
}

/** Train `steps` steps holding every step's outputs until the end (as logging does). */
async function train(be: Backend, replay: StepReplay, steps: number, scaleOf: (s: number) => number = () => 1,
  keyOf: (s: number) => string = () => '', submit = true): Promise<{ losses: number[]; norms: number[]; w: Float32Array }> {
  const m = model(be);
  const held: Record<string, Tensor>[] = [];
  for (let s = 0; s < steps; s++) {
    be.write(m.x, batch(s)); // without a submit in between, the last replay still reads x: ordered by a copy
    held.push(replay.run(keyOf(s), () => body(be, m, scaleOf(s))));
    if (submit) be.submit?.();
  }
  const losses: number[] = [], norms: number[] = [];
  for (const h of held) { losses.push(await h.loss.item()); norms.push(await h.norm.item()); for (const t of Object.values(h)) t.dispose(); }
  const w = (await m.w.data()) as Float32Array;
  replay.invalidate();
  for (const t of Object.values(m)) t.dispose();
  return { losses, norms, w };
}

test('replayed steps give exactly what recording every step gives', async () => {
  const be = await gpuBackendOrSkip(SUITE);
  if (!be) return;
  const ref = await train(be, new StepReplay(be, { enabled: false }), 10);
  const replay = new StepReplay(be);
  const got = await train(be, replay, 10);
  assert.ok(replay.stats.replayed >= 6, `replayed ${replay.stats.replayed} of 10`);
  assert.equal(got.losses, ref.losses);
  assert.equal(got.norms, ref.norms);
  assert.equal([...got.w], [...ref.w]);
  // the losses differ from step to step: each replay read its own batch, and held outputs survived
  assert.ok(new Set(got.losses).size === got.losses.length, `losses: ${got.losses}`);
});

test('replayed steps agree without a submit between steps (writes ordered after the replayed work)', async () => {
  const be = await gpuBackendOrSkip(SUITE);
  if (!be) return;
  const ref = await train(be, new StepReplay(be, { enabled: false }), 8, undefined, undefined, false);
  const replay = new StepReplay(be);
  const got = await train(be, replay, 8, undefined, undefined, false);
  assert.ok(replay.stats.replayed >= 4, `replayed ${replay.stats.replayed} of 8`);
  assert.equal(got.losses, ref.losses);
  assert.equal([...got.w], [...ref.w]);
});

test('a value baked into the step that changes after a plan formed is caught by the check, which turns replay off', async () => {
  const be = await gpuBackendOrSkip(SUITE);
  if (!be) return;
  // constant for 6 steps, then another: a contract breach (it should be a written tensor or in the key)
  const scale = (s: number) => (s < 6 ? 1 : 0.5);
  const warnings: string[] = [];
  const replay = new StepReplay(be, { checkEvery: 2, warn: (m) => warnings.push(m) });
  await train(be, replay, 12, scale);
  assert.is(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0], /recording every step from now on/);
  assert.not.ok(replay.enabled);
  // an honest step passes every check
  const honest = new StepReplay(be, { checkEvery: 2, warn: (m) => warnings.push(m) });
  await train(be, honest, 12);
  assert.ok(honest.stats.checks >= 2 && honest.enabled && warnings.length === 1, `${honest.stats.checks} checks`);
});

test('a body whose recorded work varies from step to step never replays, and stays right', async () => {
  const be = await gpuBackendOrSkip(SUITE);
  if (!be) return;
  const scale = (s: number) => 1 + s / 16; // a number in a uniform: not a written tensor
  const ref = await train(be, new StepReplay(be, { enabled: false }), 6, scale);
  const replay = new StepReplay(be);
  const got = await train(be, replay, 6, scale);
  assert.is(replay.stats.replayed, 0);
  assert.is(replay.stats.plans, 0);
  assert.equal(got.losses, ref.losses);
});

test('a new key records again, then replays under that key', async () => {
  const be = await gpuBackendOrSkip(SUITE);
  if (!be) return;
  // the scale follows the key: a schedule the body reads as a number, announced by the key
  const scale = (s: number) => (s < 5 ? 1 : 0.5);
  const key = (s: number) => (s < 5 ? 'a' : 'b');
  const ref = await train(be, new StepReplay(be, { enabled: false }), 11, scale);
  const replay = new StepReplay(be);
  const got = await train(be, replay, 11, scale, key);
  // a: record 0 and 1 on the pool (the first step's trace plans nothing), 2 and 3 on the memory
  // plan (its first two steps: the plan), replay 4; b: record 5, 6 (plan), replay 7..10
  assert.equal(replay.stats, { recorded: 6, replayed: 5, plans: 2, checks: 0 });
  assert.equal(got.losses, ref.losses);
  assert.equal([...got.w], [...ref.w]);
});

test('a plan keeps its buffers out of the pool and stops when an input it reads is released', async () => {
  const be = await gpuBackendOrSkip(SUITE);
  if (!be) return;
  const rt = rtOf(be);
  const m = model(be);
  const logged = [];
  for (let s = 0; s < 2; s++) {
    be.write(m.x, batch(s));
    assert.ok(rt.startLog());
    const out = body(be, m);
    const log = rt.endLog();
    assert.ok(log, 'step logged');
    logged.push(log!);
    for (const t of Object.values(out)) t.dispose();
    if (s === 0) be.submit?.();
  }
  assert.ok(sameLog(logged[0], logged[1]), 'two identical steps log the same');
  const reserved0 = rt.stats().bytesReserved;
  const plan = rt.adopt(logged[1]);
  assert.ok(plan, 'adopted');
  be.submit?.();
  const reserved = new Set(plan!.reserved);
  assert.ok(reserved.size > 3, `reserved ${reserved.size} buffers`);
  assert.is(rt.stats().bytesReserved - reserved0, plan!.reservedBytes);
  // whatever is allocated now, none of the plan's buffers comes back
  const taken: GpuStorage[] = [];
  for (const bytes of [4, 28, 36, 140, 180, 252, 256, 1024]) for (let i = 0; i < 6; i++) taken.push(rt.alloc(bytes));
  for (const s of taken) assert.not.ok(reserved.has(s.buffer), 'a reserved buffer was handed out');
  for (const s of taken) rt.release(s);
  assert.ok(rt.replay(plan!), 'replays while its inputs live');
  be.submit?.();
  // an input the plan reads goes back to the pool: the plan must not run on it
  m.x.dispose();
  assert.not.ok(rt.replay(plan!), 'replayed after its input was released');
  rt.releasePlan(plan!);
  rt.releasePlan(plan!); // twice is harmless
  assert.is(rt.stats().bytesReserved, reserved0);
  // its buffers are the pool's again
  const back: GpuStorage[] = [];
  for (const b of reserved) for (let i = 0; i < 8; i++) back.push(rt.alloc(b.size));
  assert.ok(back.some((s) => reserved.has(s.buffer)), 'no buffer of the released plan came back from the pool');
  for (const s of back) rt.release(s);
  m.w.dispose(); m.target.dispose();
  await rt.sync();
});

test('a submit or a write() inside the step makes the log unusable', async () => {
  const be = await gpuBackendOrSkip(SUITE);
  if (!be) return;
  const rt = rtOf(be);
  const m = model(be);
  for (const inside of [() => rt.flush(), () => be.write(m.x, batch(7))]) {
    assert.ok(rt.startLog());
    const out = body(be, m);
    inside();
    assert.is(rt.endLog(), null);
    for (const t of Object.values(out)) t.dispose();
    be.submit?.();
  }
  for (const t of Object.values(m)) t.dispose();
  await rt.sync();
});

test('a result holding an input\'s data is copied before the next write() to that input lands', async () => {
  const be = await gpuBackendOrSkip(SUITE);
  if (!be) return;
  const m = model(be);
  // a tensor no dispatch of the step binds, returned as a result: only the copy reads it
  const tag = outsideScopes(() => keep(op.zeros([4], { backend: be })));
  const replay = new StepReplay(be);
  const held: Tensor[] = [];
  for (let s = 0; s < 8; s++) {
    be.write(m.x, batch(s));
    be.write(tag, Float32Array.of(s, s, s, s)); // no submit in between: the previous step's copy of tag is still unsubmitted
    held.push(replay.run('', () => ({ ...body(be, m), tag: tag.alias() })).tag);
  }
  assert.ok(replay.stats.replayed >= 3, `replayed ${replay.stats.replayed}`);
  for (let s = 0; s < 8; s++) assert.equal([...(await held[s].data())], [s, s, s, s], `step ${s}'s tag`);
  replay.invalidate();
  for (const t of [...held, tag, ...Object.values(m)]) t.dispose();
});

test('the check compares work, not buffers: a check step given other buffers passes', async () => {
  const be = await gpuBackendOrSkip(SUITE);
  if (!be) return;
  const warnings: string[] = [];
  // Without the memory plan, which would give the check step the plan's own buffers.
  const replay = new StepReplay(be, { checkEvery: 2, warn: (w) => warnings.push(w), memoryPlan: false });
  const m = model(be);
  // held while steps 0, 1 record (the plan) and 2, 3 replay; released before step 4, a check,
  // which then records into these buffers (the pool hands out its lowest-numbered first)
  const extra = outsideScopes(() => [op.zeros([9, 5], { backend: be }), op.zeros([9, 7], { backend: be }), op.zeros([7, 5], { backend: be })]);
  for (let s = 0; s < 9; s++) {
    if (s === 4) for (const t of extra) t.dispose();
    be.write(m.x, batch(s));
    for (const t of Object.values(replay.run('', () => body(be, m)))) t.dispose();
    be.submit?.();
  }
  assert.equal(replay.stats, { recorded: 5, replayed: 4, plans: 2, checks: 2 }); // recorded: 0, 1, 4 (check), 5, 8 (check)
  assert.equal(warnings, []);
  assert.ok(replay.enabled);
  replay.invalidate();
  for (const t of Object.values(m)) t.dispose();
});

test.run();
