// mm_udiv (kernels/matmul_core.wgsl), the float-reciprocal division the implicit-GEMM hooks use
// for their index arithmetic, is exact for every n < 2^24: checked on the device against integer
// division at the edges that matter (multiples of d and their neighbours, the top of the range,
// d = 1, large d) and at random.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { kernelSource } from '../../src/backend/webgpu/kernel_source.js';
import { Rng } from '../../src/runtime/rng.js';
import { runtime, skipNotice } from './kernel_parity.js';

function udivSource(): string {
  const core = kernelSource('matmul_core.wgsl');
  const at = core.indexOf('fn mm_udiv(');
  const end = core.indexOf('\n}\n', at);
  assert.ok(at >= 0 && end > at, 'mm_udiv not found in matmul_core.wgsl');
  return core.slice(at, end + 3);
}

test('mm_udiv equals integer division for n < 2^24', async () => {
  const ctx = await runtime();
  if (!ctx) return skipNotice('udiv.test');
  const rng = new Rng(5);
  const ns: number[] = [], ds: number[] = [];
  const add = (n: number, d: number) => { if (n >= 0 && n < 2 ** 24) { ns.push(n); ds.push(d); } };
  const divisors = [1, 2, 3, 4, 5, 7, 9, 12, 49, 56, 64, 112, 192, 576, 1000, 3136, 4608, 12544, 65535, 2 ** 20 + 7, 2 ** 24 - 1];
  for (const d of divisors) {
    for (let k = 0; k < 64; k++) {
      const q = k < 32 ? k : Math.floor(rng.uniform(0, (2 ** 24 - 1) / d));
      for (const e of [-1, 0, 1, d - 1]) add(q * d + e, d);
    }
    for (const n of [2 ** 24 - 1, 2 ** 24 - 2, 2 ** 23, 2 ** 23 - 1, d * Math.floor((2 ** 24 - 1) / d) - 1]) add(n, d);
  }
  for (let i = 0; i < 20000; i++) add(Math.floor(rng.uniform(0, 2 ** 24)), 1 + Math.floor(rng.uniform(0, 5000)));

  const code = `${udivSource()}
@group(0) @binding(0) var<storage, read> nd: array<vec2<u32>>;
@group(0) @binding(1) var<storage, read> inv: array<f32>;
@group(0) @binding(2) var<storage, read_write> q: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < arrayLength(&q)) { q[g.x] = mm_udiv(nd[g.x].x, nd[g.x].y, inv[g.x]); }
}`;
  const dev = ctx.device;
  const n = ns.length;
  const nd = new Uint32Array(2 * n), inv = new Float32Array(n);
  for (let i = 0; i < n; i++) { nd[2 * i] = ns[i]; nd[2 * i + 1] = ds[i]; inv[i] = 1 / ds[i]; }
  const bNd = ctx.upload(nd), bInv = ctx.upload(inv), bQ = ctx.alloc(4 * n);
  const pipeline = dev.createComputePipeline({ layout: 'auto', compute: { module: dev.createShaderModule({ code }), entryPoint: 'main' } });
  const enc = dev.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, dev.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [bNd, bInv, { ...bQ, bytes: 4 * n }]
    .map((s, binding) => ({ binding, resource: { buffer: s.buffer, offset: 0, size: s.bytes } })) }));
  pass.dispatchWorkgroups(Math.ceil(n / 64));
  pass.end();
  await ctx.sync();
  dev.queue.submit([enc.finish()]);
  const got = new Uint32Array(await ctx.read(bQ, 4 * n));
  let bad = 0, first = '';
  for (let i = 0; i < n; i++) {
    const want = Math.floor(ns[i] / ds[i]);
    if (got[i] !== want) { if (!bad) first = `${ns[i]} / ${ds[i]}: ${got[i]}, want ${want}`; bad++; }
  }
  assert.is(bad, 0, `${bad} of ${n} quotients wrong, first ${first}`);
  for (const s of [bNd, bInv, bQ]) ctx.release(s);
});

test.run();
