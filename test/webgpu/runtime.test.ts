// The WebGPU runtime: steady-state allocation (no createBuffer after the first step), one submit
// per step, gradients through a small graph match the CPU, the 2-D dispatch grid, and errors that
// name what failed (kernel file:line, sizes, dispatch labels).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { cpu } from '../../src/backend/registry.js';
import type { Backend } from '../../src/backend/backend.js';
import { tidy, type Tensor } from '../../src/tensor.js';
import * as op from '../../src/ops/index.js';
import { Rng } from '../../src/runtime/rng.js';
import { gpuBackendOrSkip, gpuHandle } from '../helpers/gpu.js';
import { gentleWait } from '../../src/backend/webgpu/gentle_wait.js';
import { sizeClass } from '../../src/backend/webgpu/storage.js';
import { dawnToggles } from '../../src/backend/webgpu/device.js';

const SUITE = 'webgpu runtime';

/** A small training-like step: forward, loss, backward; returns the loss and grads. */
function step(be: Backend, x: Tensor, w: Tensor, b: Tensor): { loss: Tensor; gw: Tensor; gb: Tensor } {
  return tidy(() => {
    const h = op.gelu(op.add(op.mul(x, w), b));
    const z = op.softmax(op.concat([h, op.relu(h)], 1));
    const loss = op.mean(op.square(op.sub(z, op.mulScalar(op.max(z, 1, true), 0.5))));
    const [gw, gb] = op.grad(loss, [w, b]);
    void be;
    return { loss, gw: gw!, gb: gb! };
  });
}

function inputs(be: Backend): [Tensor, Tensor, Tensor] {
  const rng = new Rng(7);
  const x = op.randn([6, 13], rng, { backend: be });
  const w = op.randn([13], rng, { backend: be, requiresGrad: true });
  const b = op.randn([6, 1], rng, { backend: be, requiresGrad: true });
  return [x, w, b];
}

test('a repeated step allocates nothing after the first and submits once', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  const rt = (await gpuHandle())!.runtime;
  const [x, w, b] = inputs(gpu);
  const [cx, cw, cb] = inputs(cpu());
  const want = step(cpu(), cx, cw, cb);
  let created = -1, groups = -1;
  for (let i = 0; i < 4; i++) {
    const before = rt.stats();
    const r = step(gpu, x, w, b);
    const [loss, gw] = [await r.loss.data(), await r.gw.data()];
    const after = rt.stats();
    r.loss.dispose(); r.gw.dispose(); r.gb.dispose();
    assert.ok(Math.abs(loss[0] - want.loss.dataSync()[0]) <= 1e-6 + 1e-5 * Math.abs(want.loss.dataSync()[0]), `loss ${loss[0]}`);
    const cg = want.gw.dataSync();
    gw.forEach((v, k) => assert.ok(Math.abs(v - cg[k]) <= 1e-6 + 1e-4 * Math.abs(cg[k]), `grad w[${k}] ${v} vs ${cg[k]}`));
    assert.ok(after.dispatches - before.dispatches > 20, 'the step records many dispatches');
    assert.equal(after.submits - before.submits, 2, 'one submit for the step and its loss read, one for the gradient read');
    if (i === 0) created = after.buffersCreated;
    else assert.equal(after.buffersCreated, created, `step ${i} created buffers`);
    // Step 1 still meets some buffers in new places (step 0 created them in another order).
    if (i === 1) groups = after.bindGroupsCreated;
    if (i > 1) assert.equal(after.bindGroupsCreated, groups, `step ${i} created bind groups`);
  }
});

test('size classes: powers of two up to 64 KiB, then steps of 1/16 of the next power of two (≤ 12.5% waste)', () => {
  const KiB = 1 << 10, MiB = 1 << 20;
  assert.is(sizeClass(1), 256);
  assert.is(sizeClass(5 * KiB), 8 * KiB);
  assert.is(sizeClass(64 * KiB), 64 * KiB);
  assert.is(sizeClass(64 * KiB + 4), 72 * KiB); // 8 KiB steps up to 128 KiB
  assert.is(sizeClass(2.1 * MiB), 2.25 * MiB);
  assert.is(sizeClass(3.5 * MiB), 3.5 * MiB);
  assert.is(sizeClass(1.6e9), 12 * 2 ** 27); // 128 MiB steps up to 2 GiB
  for (const b of [70_001, 1e6, 7.3e6, 123_456_789, 1.9e9]) {
    const c = sizeClass(b);
    assert.ok(c >= b && c <= 1.125 * b + 8, `${b} → ${c}`);
  }
});

test('the pool gives a free buffer of a larger class (up to 2×) before it creates one', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  const rt = (await gpuHandle())!.runtime;
  const MiB = 1 << 20;
  rt.trimPool(); // no free buffers left by earlier tests (uvu runs every file in one process)
  const footprint = rt.stats().bytesAllocated;
  // Each size below is its own class (sizeClass).
  const big = rt.alloc(3.5 * MiB), huge = rt.alloc(12 * MiB);
  rt.release(big); rt.release(huge);
  const created = rt.stats().buffersCreated;
  const a = rt.alloc(2.5 * MiB); // class 2.5 MiB: empty; 3.5 MiB is within 2×
  assert.equal(a.buffer.size, 3.5 * MiB, 'the free 3.5 MiB buffer serves a 2.5 MiB request');
  assert.equal(a.bytes, 2.5 * MiB);
  const b = rt.alloc(5 * MiB); // 12 MiB is free but more than 2× larger: a new buffer
  assert.equal(b.buffer.size, 5 * MiB);
  assert.equal(rt.stats().buffersCreated, created + 1);
  const inUse = rt.stats().bytesInUse;
  rt.release(a); // accounted, and returned to its own class, by the buffer's size
  assert.equal(rt.stats().bytesInUse, inUse - 3.5 * MiB);
  const again = rt.alloc(3.5 * MiB);
  assert.is(again.buffer, a.buffer, 'released to the 3.5 MiB class');
  rt.release(again); rt.release(b);
  assert.equal(rt.stats().bytesAllocated, footprint + (3.5 + 12 + 5) * MiB);
  rt.trimPool(); // the footprint counts what the pool holds, not what it ever created
  assert.equal(rt.stats().bytesAllocated, footprint);
});

test('pipelines are cached by kernel and constants, in any order; bind groups by their exact regions', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  const rt = (await gpuHandle())!.runtime;
  // Workgroup shapes the backend itself never asks for (it keeps 256 threads: splitKShape), so
  // no earlier test has compiled them.
  const k = (constants: Record<string, number>) => ({ file: 'splitk_reduce.wgsl', constants });
  const p0 = rt.pipeline(k({ OUTS: 16, LANES: 2 }));
  const before = rt.stats().pipelines;
  assert.is(rt.pipeline(k({ LANES: 2, OUTS: 16 })), p0, 'same constants, other order');
  assert.is(rt.stats().pipelines, before);
  assert.is.not(rt.pipeline(k({ OUTS: 16, LANES: 4 })), p0, 'one constant differs');
  assert.is.not(rt.pipeline(k({ OUTS: 16 })), p0, 'a constant left out');
  assert.is(rt.stats().pipelines, before + 2);

  // The same fill on the same region reuses its bind group; another offset or size does not.
  // (A flush before each dispatch puts every uniform block in the arena's first slot.)
  const s = rt.alloc(4096);
  const fill = rt.pipeline({ file: 'fill.wgsl', entryPoint: 'fill_u32' });
  const u = new Uint32Array([16, 0, 0, 0]);
  const count = () => rt.stats().bindGroupsCreated;
  const run = (offset: number, bytes: number) => { rt.flush(); rt.dispatch(fill, [rt.view(s, offset, bytes)], u, [1], 'fill'); };
  run(0, 64);
  const g0 = count();
  run(0, 64);
  assert.is(count(), g0, 'same region, same uniform slot: cached');
  run(256, 64);
  assert.is(count(), g0 + 1, 'another offset: a new bind group');
  run(0, 128);
  assert.is(count(), g0 + 2, 'another size: a new bind group');
  run(256, 64); run(0, 128); run(0, 64);
  assert.is(count(), g0 + 2, 'all three found again');
  await rt.sync();
  rt.release(s);
});

test('a failed allocation is reported as out of memory with its size', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  const rt = (await gpuHandle())!.runtime;
  // What Dawn reports when a buffer that could not be allocated is then used (the real case:
  // a 448 MiB activation of RF99-ResNet50 at batch 64 on an H200).
  const fake = { error: new (class GPUValidationError { message = 'Invalid Buffer "pool 469762048"] is invalid due to a previous error.'; })(), preventDefault() {} };
  rt.device.onuncapturederror!.call(rt.device, fake as unknown as GPUUncapturedErrorEvent);
  assert.throws(() => rt.flush(), /out of memory: a 448(\.0)? MiB buffer could not be allocated/);
  rt.flush(); // the error is reported once; the runtime stays usable
});

test('a large fill uses the 2-D grid and reaches every element', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  const n = 65535 * 256 + 300; // one 1-D dispatch cannot cover this
  const s = gpu.fill(n, 'f32', 3.5);
  const d = await gpu.download({ storage: s, shape: [n], dtype: 'f32' });
  gpu.release(s);
  assert.equal(d[0], 3.5);
  assert.equal(d[n - 1], 3.5);
  assert.equal(d[n - 300], 3.5);
});

test('errors name the kernel file and line, sizes and limits, dispatch labels', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  const rt = (await gpuHandle())!.runtime;
  // A prelude that collides with a declaration of the file: the error must point at the file's
  // own line (prelude lines subtracted).
  const src = readFileSync(new URL('../../../kernels/elementwise.wgsl', import.meta.url), 'utf8').split('\n');
  const line = src.findIndex((l) => l.startsWith('const SQRT1_2')) + 1;
  let message = '';
  try { await rt.compileCheck({ file: 'elementwise.wgsl', entryPoint: 'unary_f32', prelude: 'const SQRT1_2: f32 = 1.0;\n// two lines', constants: { OP: 9 } }); }
  catch (e) { message = (e as Error).message; }
  assert.match(message, new RegExp(`kernels/elementwise\\.wgsl:${line}:\\d+`), message);

  // An error inside a prelude: named by the line of the kernels/ file the prelude holds (the
  // GEMM core) where there is one, else by the prelude's line; the same with --pipeline-stats'
  // label line in front (COENGINE_VK_STATS_FILE).
  const preludeError = async (preludeSource?: { file: string; firstLine: number }) => {
    try {
      await rt.compileCheck({ file: 'elementwise.wgsl', entryPoint: 'unary_f32', constants: { OP: 9 }, preludeSource,
        prelude: `// head ${Math.random()}\n// core line 1\nconst BROKEN: u32 = 1u / 0u;\n` });
    } catch (e) { return (e as Error).message; }
    return '';
  };
  for (const stats of [false, true]) {
    if (stats) process.env.COENGINE_VK_STATS_FILE = '/nonexistent/stats.jsonl'; // only tags the source here
    try {
      message = await preludeError({ file: 'matmul_core.wgsl', firstLine: 2 });
      assert.match(message, /kernels\/matmul_core\.wgsl:2:\d+/, message);
      message = await preludeError();
      assert.match(message, /kernels\/elementwise\.wgsl \(prelude line 3\):\d+/, message);
    } finally { delete process.env.COENGINE_VK_STATS_FILE; }
  }

  const limit = rt.limits.maxStorageBufferBindingSize;
  assert.throws(() => rt.alloc(limit + 4), (e: Error) => e.message.includes('cannot allocate') && e.message.includes('maxStorageBufferBindingSize'));

  // Too few buffers for a kernel: reported at the next read, naming the dispatch.
  const a = rt.alloc(64);
  rt.dispatch(rt.pipeline({ file: 'elementwise.wgsl', entryPoint: 'unary_f32' }), [a], new Uint32Array(4), [1], 'deliberately broken');
  let err = '';
  try { await rt.read(a); } catch (e) { err = (e as Error).message; }
  rt.release(a);
  assert.match(err, /deliberately broken/, err);
});

test('an upload never forces a submit, and recorded work still sees the old contents', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  const rt = (await gpuHandle())!.runtime;
  await rt.sync();
  const n = 300;
  const first = rt.upload(new Float32Array(n).fill(2));
  const out = gpu.unary('neg', { storage: first, shape: [n], dtype: 'f32' }); // recorded, not submitted
  rt.release(first); // its buffer is free again but still used by the recorded dispatch
  const submits = rt.stats().submits;
  const second = rt.upload(new Float32Array(n).fill(5)); // same size class
  assert.equal(rt.stats().submits, submits, 'upload submitted the recorded work');
  assert.ok(second.buffer !== first.buffer, 'upload reused a buffer that recorded work reads');
  const got = await gpu.download({ storage: out, shape: [n], dtype: 'f32' });
  const again = await gpu.download({ storage: second, shape: [n], dtype: 'f32' });
  assert.equal([got[0], got[n - 1], again[0], again[n - 1]], [-2, -2, 5, 5]);
  gpu.release(out); rt.release(second);
});

test('waiting for the device does not spin the event loop', async () => {
  // dawn.node polls pending promises through the global setImmediate; a stand-in poller that
  // re-queues itself the same way shows how often it would run during a 60 ms wait.
  const original = globalThis.setImmediate;
  const pollsDuring = async (wait: (p: () => Promise<void>) => Promise<void>): Promise<number> => {
    let polls = 0;
    let pending = true;
    const poll = () => { polls++; if (pending) globalThis.setImmediate(poll); };
    await wait(() => {
      globalThis.setImmediate(poll);
      return new Promise<void>((r) => setTimeout(() => { pending = false; r(); }, 60));
    });
    return polls;
  };
  const spinning = await pollsDuring((p) => p());
  const gentle = await pollsDuring(gentleWait);
  assert.ok(globalThis.setImmediate === original, 'setImmediate restored after the wait');
  assert.ok(gentle > 1 && gentle * 5 < spinning, `${gentle} polls in 60 ms (${spinning} when spinning)`);
  // Overlapping waits restore it only when the last ends.
  let release!: () => void;
  const longer = gentleWait(() => new Promise<void>((r) => { release = r; }));
  await gentleWait(() => Promise.resolve());
  assert.ok(globalThis.setImmediate !== original, 'still throttled while another wait is pending');
  release();
  await longer;
  assert.ok(globalThis.setImmediate === original, 'restored after the last wait');
});

test('profileDispatches times steps of more dispatches than one query set holds (multi-crop steps record ~2,500)', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  const rt = (await gpuHandle())!.runtime;
  if (!rt.features.has('timestamp-query')) return;
  const s = gpu.fill(256, 'f32', 1);
  const n = 2 * 2048 + 5;
  const p = await rt.profileDispatches(() => { for (let i = 0; i < n; i++) gpu.release(gpu.unary('exp', { storage: s, shape: [256], dtype: 'f32' })); }, (l) => l);
  gpu.release(s);
  assert.is(p.total, n);
  assert.is(p.timed, n);
  assert.is(p.dispatches.length, n);
  // the third query set's passes ticked (a set resolved to the wrong place would read zeros)
  assert.ok(p.dispatches.slice(2 * 2048).some((d) => d.ms > 0), 'the last query set was resolved');
});

test('timeDispatches reports GPU time', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  const rt = (await gpuHandle())!.runtime;
  const s = gpu.fill(1 << 16, 'f32', 1);
  const t = await rt.timeDispatches(() => { for (let i = 0; i < 3; i++) gpu.release(gpu.unary('exp', { storage: s, shape: [1 << 16], dtype: 'f32' })); });
  gpu.release(s);
  assert.ok(t.ms > 0 && t.ms < 10_000, `${t.ms} ms (${t.source})`);
});

test('COENGINE_DAWN_ENABLE adds Dawn toggles and rejects what is not a toggle name', () => {
  const prev = process.env.COENGINE_DAWN_ENABLE;
  try {
    delete process.env.COENGINE_DAWN_ENABLE;
    const base = dawnToggles();
    process.env.COENGINE_DAWN_ENABLE = 'disable_robustness, skip_validation';
    const more = dawnToggles();
    assert.equal(more[0], `${base[0]},disable_robustness,skip_validation`);
    assert.equal(more.slice(1), base.slice(1));
    process.env.COENGINE_DAWN_ENABLE = 'disable_robustness;rm -rf';
    assert.throws(() => dawnToggles(), /COENGINE_DAWN_ENABLE: 'disable_robustness;rm -rf' is not a Dawn toggle name/);
  } finally {
    if (prev === undefined) delete process.env.COENGINE_DAWN_ENABLE; else process.env.COENGINE_DAWN_ENABLE = prev;
  }
});

test('COENGINE_DAWN_DISABLE turns toggles off, defaults included', () => {
  const prev = [process.env.COENGINE_DAWN_ENABLE, process.env.COENGINE_DAWN_DISABLE];
  try {
    delete process.env.COENGINE_DAWN_ENABLE;
    process.env.COENGINE_DAWN_DISABLE = 'use_vulkan_memory_model,dump_shaders';
    const [on, off] = dawnToggles();
    assert.equal(on, 'enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia');
    assert.equal(off, 'disable-dawn-features=timestamp_quantization,use_vulkan_memory_model,dump_shaders');
    process.env.COENGINE_DAWN_ENABLE = 'dump_shaders'; // disabling wins
    assert.not.match(dawnToggles()[0], /dump_shaders/);
    process.env.COENGINE_DAWN_DISABLE = 'Use-VMM';
    assert.throws(() => dawnToggles(), /COENGINE_DAWN_DISABLE: 'Use-VMM' is not a Dawn toggle name/);
  } finally {
    if (prev[0] === undefined) delete process.env.COENGINE_DAWN_ENABLE; else process.env.COENGINE_DAWN_ENABLE = prev[0];
    if (prev[1] === undefined) delete process.env.COENGINE_DAWN_DISABLE; else process.env.COENGINE_DAWN_DISABLE = prev[1];
  }
});

test('writeValues: host values in the tensor\'s dtype, on the CPU and the GPU, after the work recorded before it', async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  for (const be of [cpu(), ...(gpu ? [gpu] : [])]) {
    const f = op.zeros([3], { backend: be });
    const i = op.zeros([2], { backend: be, dtype: 'i32' });
    op.writeValues(f, [0.1, -2, 3.5]); // numbers → f32
    op.writeValues(i, Int32Array.of(7, -9));
    assert.equal([...(await f.data())], [...Float32Array.of(0.1, -2, 3.5)], be.name);
    assert.equal([...(await i.data())], [7, -9], be.name);
    // recorded work reads f, then f is rewritten before any submit: the work must see the old values
    const doubled = op.mulScalar(f, 2);
    op.writeValues(f, [1, 1, 1]);
    assert.equal([...(await doubled.data())], [...Float32Array.of(0.2, -4, 7)], `${be.name}: ordered after recorded work`);
    assert.equal([...(await f.data())], [1, 1, 1], be.name);
    assert.throws(() => op.writeValues(f, [1, 2]), /2 values into/);
    for (const t of [f, i, doubled]) t.dispose();
  }
});

test.run();
