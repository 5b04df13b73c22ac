// CPU storage is a typed array; f64 arrays give the gradient checks their precision.
import type { Raw, Storage } from '../backend.js';
import { allocArray, type DType, type TypedArray } from '../../runtime/dtype.js';

export interface CpuStorage extends Storage {
  readonly backend: 'cpu';
  readonly data: TypedArray;
}

export function cpuStorage(data: TypedArray): CpuStorage {
  return { backend: 'cpu', bytes: data.byteLength, data };
}

export function dataOf(x: Raw): TypedArray {
  return (x.storage as CpuStorage).data;
}

/**
 * Output storage for `size` values: `into` (a gradient sink the caller offered, used when it has
 * the right type and size), else fresh storage of the dtype.
 */
export function allocInto(dtype: DType, size: number, into: Storage | null | undefined): CpuStorage {
  const d = (into as CpuStorage | null | undefined)?.data;
  if (d && d.length === size && d.constructor === allocArray(dtype, 0).constructor) { d.fill(0); return into as CpuStorage; }
  return alloc(dtype, size);
}

/** Output storage of x's float type (or a given one). */
export function alloc(dtype: DType, size: number): CpuStorage {
  return cpuStorage(allocArray(dtype, size));
}
