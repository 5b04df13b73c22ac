// The GPU test policy: one shared WebGPU backend per test process; without an adapter the GPU
// tests skip with a visible message locally, and FAIL under CI=true (CI installs lavapipe, so a
// missing adapter there is a broken setup, not a reason to pass).
// Also: parity helpers that run one primitive on the GPU and on the CPU reference backend.
import type { Backend, Raw, Storage } from '../../src/backend/backend.js';
import { cpu, webgpu } from '../../src/backend/registry.js';
import { whyNoWebGpu, type WebGpuHandle } from '../../src/backend/webgpu/index.js';
import type { DType, TypedArray } from '../../src/runtime/dtype.js';
import { allocArray } from '../../src/runtime/dtype.js';
import { numel, type Shape } from '../../src/runtime/shape.js';
import { Rng } from '../../src/runtime/rng.js';

const skipped = new Set<string>();

export function inCI(): boolean { return process.env.CI === 'true' || process.env.CI === '1'; }

/** The process's shared handle (backend + runtime; the registry's), or null without an adapter. */
export function gpuHandle(): Promise<WebGpuHandle | null> {
  return webgpu();
}

/** The WebGPU backend, or null after printing a skip notice (throws under CI=true). */
export async function gpuBackendOrSkip(suite = 'webgpu tests'): Promise<Backend | null> {
  const h = await gpuHandle();
  if (h) return h.backend;
  const why = whyNoWebGpu() || 'no adapter';
  if (inCI()) throw new Error(`${suite}: no WebGPU adapter under CI=true (${why}); run scripts/setup-ci.sh`);
  if (!skipped.has(suite)) {
    skipped.add(suite);
    console.log(`  [skip] ${suite}: no WebGPU adapter (${why})`);
  }
  return null;
}

// ---------------------------------------------------------------- parity

export interface HostTensor { data: TypedArray; shape: Shape; dtype: DType }

export function randomTensor(shape: Shape, seed: number, opts: { dtype?: DType; lo?: number; hi?: number } = {}): HostTensor {
  const dtype = opts.dtype ?? 'f32';
  const rng = new Rng(seed);
  const data = allocArray(dtype, numel(shape));
  const lo = opts.lo ?? -2, hi = opts.hi ?? 2;
  for (let i = 0; i < data.length; i++) {
    const v = rng.uniform(lo, hi);
    data[i] = dtype === 'f32' || dtype === 'f64' ? v : Math.floor(v);
  }
  return { data, shape, dtype };
}

export function toRaw(be: Backend, t: HostTensor): Raw {
  return { storage: be.upload(t.data, t.dtype), shape: t.shape, dtype: t.dtype };
}

/** The result of a primitive as a Raw (shape and dtype of its output). */
export type Result = { storage: Storage; shape: Shape; dtype: DType };

/**
 * Run `op` on both backends with the same inputs; returns the worst violation of
 * |gpu − cpu| ≤ atol + rtol·|cpu| (≤ 1 passes) with a description of where.
 */
export async function parity(gpu: Backend, inputs: HostTensor[], op: (be: Backend, xs: Raw[]) => Result,
  tol: { rtol?: number; atol?: number } = {}): Promise<{ worst: number; where: string; gpu: TypedArray; cpu: TypedArray }> {
  const rtol = tol.rtol ?? 1e-5, atol = tol.atol ?? 1e-6;
  const gx = inputs.map((t) => toRaw(gpu, t));
  const cx = inputs.map((t) => toRaw(cpu(), t));
  const g = op(gpu, gx), c = op(cpu(), cx);
  const [gd, cd] = [await gpu.download(g), await cpu().download(c)];
  for (const r of [...gx, g]) gpu.release(r.storage);
  let worst = 0, where = 'equal';
  if (gd.length !== cd.length) return { worst: Infinity, where: `length ${gd.length} vs ${cd.length}`, gpu: gd, cpu: cd };
  for (let i = 0; i < gd.length; i++) {
    const a = gd[i], b = cd[i];
    if (Number.isNaN(a) && Number.isNaN(b)) continue;
    const v = Math.abs(a - b) / (atol + rtol * Math.abs(b));
    if (!(v <= worst)) { worst = Number.isNaN(v) ? Infinity : v; where = `element ${i}: gpu ${a} cpu ${b}`; }
  }
  return { worst, where, gpu: gd, cpu: cd };
}
