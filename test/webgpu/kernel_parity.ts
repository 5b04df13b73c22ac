// Shared by the WebGPU kernel parity tests (gemm, conv, batchnorm, pool): one runtime on the
// machine's adapter (lavapipe in CI), host↔GPU transfers, the CPU reference backend, and a
// relative-error comparison. Tests skip (with a notice) when there is no adapter.
import { openDevice } from '../../src/backend/webgpu/device.js';
import { GpuRuntime } from '../../src/backend/webgpu/runtime.js';
import type { GpuStorage } from '../../src/backend/webgpu/context.js';
import type { Raw } from '../../src/backend/backend.js';
import type { DType } from '../../src/runtime/dtype.js';
import type { Shape } from '../../src/runtime/shape.js';
import { cpu } from '../../src/backend/registry.js';
import { Rng } from '../../src/runtime/rng.js';

let rt: Promise<GpuRuntime | null> | null = null;

/** The shared runtime, or null when no adapter exists. */
export function runtime(): Promise<GpuRuntime | null> {
  return (rt ??= openDevice().then((d) => (d ? new GpuRuntime(d.device) : null)));
}

export function gpuRaw(ctx: GpuRuntime, data: Float32Array | Int32Array, shape: Shape): Raw {
  const dtype: DType = data instanceof Int32Array ? 'i32' : 'f32';
  return { storage: ctx.upload(data), shape, dtype };
}

export function cpuRaw(data: Float32Array | Int32Array, shape: Shape): Raw {
  const dtype: DType = data instanceof Int32Array ? 'i32' : 'f32';
  return { storage: cpu().upload(data, dtype), shape, dtype };
}

export async function readF32(ctx: GpuRuntime, s: unknown, n: number): Promise<Float32Array> {
  return new Float32Array(await ctx.read(s as GpuStorage, 4 * n));
}

export async function readI32(ctx: GpuRuntime, s: unknown, n: number): Promise<Int32Array> {
  return new Int32Array(await ctx.read(s as GpuStorage, 4 * n));
}

export async function cpuData(s: unknown, shape: Shape, dtype: DType = 'f32'): Promise<Float64Array> {
  const d = await cpu().download({ storage: s as Raw['storage'], shape, dtype });
  return Float64Array.from(d as ArrayLike<number>);
}

export function randomF32(n: number, seed: number, scale = 1): Float32Array {
  const rng = new Rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-scale, scale);
  return a;
}

/** max |got − want| / max(max |want|, tiny): a norm-relative error, robust to near-zero entries. */
export function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length mismatch: got ${got.length}, want ${want.length}`);
  let scale = 1e-30, err = 0;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= err)) err = Number.isNaN(d) ? Infinity : d;
  }
  return err / scale;
}

export function assertClose(what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-5): void {
  const e = maxRelErr(got, want);
  if (!(e <= tol)) throw new Error(`${what}: max relative error ${e.toExponential(2)} > ${tol}`);
}

export function skipNotice(file: string): void {
  process.stderr.write(`${file}: no WebGPU adapter, skipping GPU parity tests\n`);
}
