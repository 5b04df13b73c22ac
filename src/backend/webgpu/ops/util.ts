// Helpers shared by the kernel wrappers: dtype checks, output allocation, and the dim merging
// that keeps index math short (adjacent dims that are contiguous in every operand become one).
import type { Raw } from '../../backend.js';
import type { DType } from '../../../runtime/dtype.js';
import { numel, type Shape } from '../../../runtime/shape.js';
import { BackendError, fmtShape } from '../../../runtime/errors.js';
import type { GpuContext, GpuStorage } from '../context.js';

/** Max rank of strided kernels (2 × vec4 of shape/strides in the uniform block). */
export const MAX_RANK = 8;

export function gpu(x: Raw): GpuStorage { return x.storage as GpuStorage; }

/** Storage bytes of n elements: u8 is packed 4 per 32-bit word. */
export function bytesFor(n: number, dtype: DType): number {
  if (dtype === 'f64') throw f64Error();
  return dtype === 'u8' ? n : 4 * n;
}

export function f64Error(): BackendError {
  return new BackendError('f64 is not supported on the webgpu backend (WGSL has no f64); use the cpu backend for f64 gradient checks');
}

/** Only 32-bit dtypes reach most kernels. */
export function need32(op: string, x: Raw, allowed: DType[] = ['f32', 'i32']): void {
  if (x.dtype === 'f64') throw f64Error();
  if (!allowed.includes(x.dtype)) {
    throw new BackendError(`${op}: dtype ${x.dtype} is not supported on webgpu (supported: ${allowed.join(', ')})` +
      (x.dtype === 'u8' ? '; cast u8 tensors to f32 or i32 first' : ''));
  }
}

export function alloc(ctx: GpuContext, shape: Shape | number, dtype: DType): GpuStorage {
  const n = typeof shape === 'number' ? shape : numel(shape);
  return ctx.alloc(bytesFor(n, dtype));
}

/** Workgroup grid for n threads of 256 per group (2-D past the per-dimension limit). */
export function grid(ctx: GpuContext, n: number, wg = 256): [number, number] {
  const groups = Math.max(1, Math.ceil(n / wg));
  const maxX = ctx.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= maxX) return [groups, 1];
  const y = Math.ceil(groups / maxX);
  return [Math.ceil(groups / y), y];
}

/**
 * Drop size-1 dims and merge neighbours that are contiguous in every stride list
 * (stride[d] = stride[d+1]·shape[d+1]). Returns at least one dim.
 */
export function mergeDims(shape: Shape, strides: number[][]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k][last] === s[d] * shape[d])) {
      outShape[last] *= shape[d];
      strides.forEach((s, k) => (outStrides[k][last] = s[d]));
    } else {
      outShape.push(shape[d]);
      strides.forEach((s, k) => outStrides[k].push(s[d]));
    }
  }
  if (outShape.length === 0) return { shape: [1], strides: strides.map(() => [0]) };
  return { shape: outShape, strides: outStrides };
}

export function checkRank(op: string, shape: Shape): void {
  if (shape.length > MAX_RANK) throw new BackendError(`${op}: rank ${shape.length} ${fmtShape(shape)} exceeds the webgpu limit of ${MAX_RANK} after merging dims`);
}
