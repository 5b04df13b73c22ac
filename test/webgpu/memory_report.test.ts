// What a step holds at its peak (src/backend/webgpu/memory_report.ts): origins read from stacks,
// the peak and its groups on known traces (the plan's lower bound, every group counted), and
// origins traced through the runtime on a real step.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { AllocTrace, planRegions, StepMemoryPlanner } from '../../src/backend/webgpu/memory_plan.js';
import { allocationOrigin, memoryPeak } from '../../src/backend/webgpu/memory_report.js';
import type { GpuRuntime } from '../../src/backend/webgpu/runtime.js';
import type { Backend } from '../../src/backend/backend.js';
import { tidy } from '../../src/tensor.js';
import * as op from '../../src/ops/index.js';
import { Rng } from '../../src/runtime/rng.js';
import { gpuBackendOrSkip } from '../helpers/gpu.js';

const rtOf = (be: Backend) => (be as unknown as { runtime: GpuRuntime }).runtime;

test('allocationOrigin: the op and two callers outside the engine, or the op and (backward)', () => {
  const fwd = [
    'Error',
    '    at GpuRuntime.alloc (/w/dist/src/backend/webgpu/runtime.js:257:20)',
    '    at WebGpuBackend.conv2d (/w/src/backend/webgpu/backend.ts:90:5)',
    '    at wrap (/w/src/tensor.ts:40:3)',
    '    at conv2d (/w/src/ops/conv.ts:48:13)',
    '    at Conv2d.forwardHinted (/w/src/nn/layers.ts:42:12)',
    '    at Bottleneck.forward (/w/src/models/blocks.ts:123:25)',
    '    at Sequential.forward (/w/src/nn/layers.ts:156:30)',
  ].join('\n');
  assert.is(allocationOrigin(fwd), 'ops/conv.ts:48 ← nn/layers.ts:42 ← models/blocks.ts:123');
  const bwd = [
    'Error',
    '    at GpuRuntime.alloc (/w/src/backend/webgpu/runtime.ts:257:20)',
    '    at /w/src/ops/norm_conv.ts:58:31',
    '    at backward (/w/src/autograd/tape.ts:130:9)',
    '    at trainStep (/w/src/training/pretrain.ts:360:3)',
  ].join('\n');
  assert.is(allocationOrigin(bwd), 'ops/norm_conv.ts:58 ← (backward)');
  // Compiled paths (no source maps) read the same way; a stack with nothing of ours is '(unknown)'.
  assert.is(allocationOrigin('Error\n    at f (/w/dist/src/methods/byol.js:31:5)'), 'methods/byol.js:31');
  assert.is(allocationOrigin('Error\n    at g (node:internal/x:1:1)'), '(unknown)');
  assert.is(allocationOrigin(undefined), '(unknown)');
});

test('memoryPeak: the peak, what is live there by origin, and uploads and what outlives the step left out', () => {
  const t = new AllocTrace();
  const a = t.alloc(300, true, 'A');   // [0, 6)
  const b = t.alloc(100, true, 'B');   // [1, 3)
  t.release(b);
  const c = t.alloc(500, true, 'C');   // [3, 5): peak 800 at time 3 (A + C)
  t.release(c);
  t.release(a);
  t.alloc(2000, false, 'upload');     // an upload: not planned, not counted
  t.alloc(4000, true, 'kept');        // held past the step: not counted
  const d = t.alloc(200, true, 'A');  // alone
  t.release(d);
  t.close();
  const r = memoryPeak(t);
  assert.is(r.peakBytes, 800);
  assert.equal(r.groups, [{ origin: 'C', count: 1, bytes: 500 }, { origin: 'A', count: 1, bytes: 300 }]);
  // Without origins every live allocation is one group.
  const u = new AllocTrace();
  u.alloc(64, true);
  u.release(0);
  u.close();
  assert.equal(memoryPeak(u).groups, [{ origin: '(origin not traced)', count: 1, bytes: 64 }]);
});

test('memoryPeak: on random traces, the peak is the plan\'s lower bound and the groups sum to it', () => {
  const rng = new Rng(5);
  for (let trial = 0; trial < 150; trial++) {
    const t = new AllocTrace();
    const live: number[] = [];
    const steps = 4 + Math.floor(rng.uniform(0, 150));
    for (let s = 0; s < steps; s++) {
      if (live.length && rng.uniform(0, 1) < 0.45) t.release(live.splice(Math.floor(rng.uniform(0, live.length)), 1)[0]);
      else live.push(t.alloc(256 * Math.ceil(2 ** rng.uniform(0, 12)), rng.uniform(0, 1) > 0.1, `o${Math.floor(rng.uniform(0, 5))}`));
    }
    for (const i of live) if (rng.uniform(0, 1) < 0.8) t.release(i);
    t.close();
    const r = memoryPeak(t);
    const p = planRegions(t, (b) => b); // sizes are whole 256-byte blocks already
    assert.is(r.peakBytes, p.lowerBound, `trial ${trial}: the peak is planRegions' live bound`);
    assert.ok(r.peakBytes <= p.total, `trial ${trial}: peak ${r.peakBytes} > plan ${p.total}`);
    assert.is(r.groups.reduce((s, g) => s + g.bytes, 0), r.peakBytes, `trial ${trial}: groups sum to the peak`);
  }
});

test('the runtime notes origins only when asked, and a step\'s peak names the ops that made it', async () => {
  const be = await gpuBackendOrSkip('memory report');
  if (!be) return;
  const rt = rtOf(be);
  const planner = new StepMemoryPlanner(rt);
  const x = op.randn([64, 128], new Rng(1), { backend: be });
  const w = op.randn([128, 256], new Rng(2), { backend: be });
  const step = () => { planner.begin(); tidy(() => { op.sum(op.relu(op.matmul(x, w))).dispose(); }); planner.end(); };
  step();
  assert.is(planner.lastTrace!.origins, null, 'origins traced unasked');
  rt.traceOrigins = true;
  try { step(); } finally { rt.traceOrigins = false; }
  const t = planner.lastTrace!;
  assert.is(t.origins!.length, t.length);
  const r = memoryPeak(t);
  // matmul's 64×256 output and relu's are live together at the peak (with the sum's few bytes).
  assert.ok(r.peakBytes >= 2 * 64 * 256 * 4 && r.peakBytes < 2 * 64 * 256 * 4 + 1024, `peak ${r.peakBytes}`);
  const origins = r.groups.map((g) => g.origin);
  assert.ok(origins.some((o) => /^ops\/linalg\.[jt]s:\d+/.test(o)), `no matmul among ${origins}`);
  assert.ok(origins.some((o) => /^ops\/elementwise\.[jt]s:\d+/.test(o)), `no relu among ${origins}`);
  planner.release();
  for (const v of [x, w]) v.dispose();
  rt.trimPool();
});

test.run();
