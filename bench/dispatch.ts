// Host cost of one dispatch, piece by piece, on the machine's adapter: the runtime's pipeline and
// bind-group lookups, a whole runtime.dispatch with a batch-norm-sized bind group (7 storage
// bindings + uniform), and Dawn's own setPipeline + setBindGroup + dispatchWorkgroups. A training
// step records about a thousand dispatches, so each microsecond here is a millisecond a step.
//   node dist/bench/dispatch.js [--json]
import { initBackend, webgpu } from '../src/backend/registry.js';
import { params } from '../src/backend/webgpu/params.js';
import type { GpuRuntime } from '../src/backend/webgpu/runtime.js';

export interface DispatchBenchRow { what: string; usPerCall: number }

/** Best of 5 batches of n calls, µs per call; flushes every 1,000 recorded dispatches. */
async function time(rt: GpuRuntime, n: number, fn: (i: number) => void): Promise<number> {
  for (let i = 0; i < 3000; i++) { fn(i); if (i % 1000 === 999) rt.flush(); }
  await rt.sync();
  let best = Infinity;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) { fn(i); if (i % 1000 === 999) rt.flush(); }
    best = Math.min(best, performance.now() - t0);
    await rt.sync();
  }
  return (best / n) * 1000;
}

export async function benchDispatch(n = 20000): Promise<DispatchBenchRow[]> {
  await initBackend('webgpu');
  const rt = (await webgpu())!.runtime;
  const bufs = Array.from({ length: 7 }, () => rt.alloc(4096));
  const kernel = () => ({ file: 'batchnorm_partial.wgsl', constants: { BACKWARD: 0, VEC: 1, RELU_MASK: 0 } });
  const pipe = rt.pipeline(kernel());
  const u = params().u32(1024, 64, 16, 4).bytes().slice();
  const rows: DispatchBenchRow[] = [];
  rows.push({ what: 'runtime.pipeline lookup (a fresh KernelRef, 3 constants)', usPerCall: await time(rt, n, () => rt.pipeline(kernel())) });
  rows.push({ what: 'runtime.dispatch, 7 storage bindings + uniform (cached bind group)', usPerCall: await time(rt, n, () => rt.dispatch(pipe, bufs, u, [1, 1], 'bench')) });
  // Dawn alone, same pipeline and one prebuilt bind group, in one pass.
  const dev = rt.device;
  const uniform = dev.createBuffer({ size: 256, usage: GPUBufferUsage.UNIFORM });
  const group = dev.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries: [
    ...bufs.map((b, i) => ({ binding: i, resource: { buffer: b.buffer } })),
    { binding: 7, resource: { buffer: uniform } },
  ] });
  let enc = dev.createCommandEncoder(), pass = enc.beginComputePass();
  rows.push({ what: 'Dawn setPipeline + setBindGroup + dispatchWorkgroups', usPerCall: await time(rt, n, (i) => {
    pass.setPipeline(pipe); pass.setBindGroup(0, group); pass.dispatchWorkgroups(1);
    if (i % 1000 === 999) { pass.end(); dev.queue.submit([enc.finish()]); enc = dev.createCommandEncoder(); pass = enc.beginComputePass(); }
  }) });
  pass.end(); dev.queue.submit([enc.finish()]);
  await rt.sync();
  uniform.destroy();
  for (const b of bufs) rt.release(b);
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const json = process.argv.includes('--json');
  const rows = await benchDispatch();
  for (const r of rows) console.log(json ? JSON.stringify(r) : `${r.usPerCall.toFixed(2).padStart(7)} µs  ${r.what}`);
  process.exit(0);
}
