// Creating tensors from data, constants and random numbers.
import type { Backend } from '../backend/backend.js';
import { defaultBackend } from '../backend/registry.js';
import { Tensor } from '../tensor.js';
import { allocArray, dtypeOfArray, type DType, type TypedArray } from '../runtime/dtype.js';
import { numel, type Shape } from '../runtime/shape.js';
import { fmtShape, ShapeError } from '../runtime/errors.js';
import { Rng } from '../runtime/rng.js';

export interface CreateOptions {
  dtype?: DType;
  backend?: Backend;
  requiresGrad?: boolean;
}

/** A tensor from a flat array (or typed array) and a shape. */
export function tensor(data: ArrayLike<number> | TypedArray, shape: Shape, opts: CreateOptions = {}): Tensor {
  if (data.length !== numel(shape)) {
    throw new ShapeError(`tensor: ${data.length} values do not fill shape ${fmtShape(shape)} (${numel(shape)} elements)`);
  }
  const dtype = opts.dtype ?? (ArrayBuffer.isView(data) ? dtypeOfArray(data as TypedArray) : 'f32');
  const b = opts.backend ?? defaultBackend();
  const t = new Tensor(b, b.upload(asDtype(data, dtype), dtype), shape, dtype);
  t.requiresGrad = opts.requiresGrad ?? false;
  return t;
}

/**
 * Overwrite t's elements with host values, in t's dtype (Backend.write: ordered after the work
 * recorded so far). Per-step values go into a recorded step's tensors this way.
 */
export function writeValues(t: Tensor, data: ArrayLike<number> | TypedArray): void {
  if (data.length !== t.size) throw new ShapeError(`writeValues: ${data.length} values into ${t.describe()}`);
  t.backend.write(t, asDtype(data, t.dtype));
}

/** data as a typed array of dtype (itself when it already is one). */
function asDtype(data: ArrayLike<number> | TypedArray, dtype: DType): TypedArray {
  if (ArrayBuffer.isView(data) && dtypeOfArray(data as TypedArray) === dtype) return data as TypedArray;
  const arr = allocArray(dtype, data.length);
  for (let i = 0; i < data.length; i++) arr[i] = data[i];
  return arr;
}

export function full(shape: Shape, value: number, opts: CreateOptions = {}): Tensor {
  const b = opts.backend ?? defaultBackend();
  const dtype = opts.dtype ?? 'f32';
  const t = new Tensor(b, b.fill(numel(shape), dtype, value), shape, dtype);
  t.requiresGrad = opts.requiresGrad ?? false;
  return t;
}

export const zeros = (shape: Shape, opts: CreateOptions = {}): Tensor => full(shape, 0, opts);
export const ones = (shape: Shape, opts: CreateOptions = {}): Tensor => full(shape, 1, opts);

export function zerosLike(t: Tensor): Tensor { return full(t.shape, 0, { dtype: t.dtype, backend: t.backend }); }
export function onesLike(t: Tensor): Tensor { return full(t.shape, 1, { dtype: t.dtype, backend: t.backend }); }

/** Normal(mean, std) samples drawn on the host from a seeded generator (reproducible on any backend). */
export function randn(shape: Shape, rng: Rng, opts: CreateOptions & { mean?: number; std?: number } = {}): Tensor {
  const a = allocArray(opts.dtype ?? 'f32', numel(shape));
  const m = opts.mean ?? 0, s = opts.std ?? 1;
  for (let i = 0; i < a.length; i++) a[i] = m + s * rng.normal();
  return tensor(a, shape, opts);
}

/** Uniform [lo, hi) samples from a seeded generator. */
export function rand(shape: Shape, rng: Rng, opts: CreateOptions & { lo?: number; hi?: number } = {}): Tensor {
  const a = allocArray(opts.dtype ?? 'f32', numel(shape));
  const lo = opts.lo ?? 0, hi = opts.hi ?? 1;
  for (let i = 0; i < a.length; i++) a[i] = rng.uniform(lo, hi);
  return tensor(a, shape, opts);
}

export function arange(n: number, opts: CreateOptions = {}): Tensor {
  const a = allocArray(opts.dtype ?? 'i32', n);
  for (let i = 0; i < n; i++) a[i] = i;
  return tensor(a, [n], opts);
}

/** Move or convert a tensor: to another backend and/or dtype (a copy; no gradient flows). */
export async function to(t: Tensor, target: { backend?: Backend; dtype?: DType }): Promise<Tensor> {
  const data = await t.data();
  const dtype = target.dtype ?? t.dtype;
  const arr = allocArray(dtype, data.length);
  arr.set(data as ArrayLike<number>);
  return tensor(arr, t.shape, { dtype, backend: target.backend ?? t.backend });
}
