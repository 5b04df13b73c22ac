// Shape arithmetic shared by the op layer and both backends.
import { shapeError } from './errors.js';

export type Shape = readonly number[];

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Normalise a possibly negative axis against a rank. */
export function normAxis(axis: number, rank: number, op = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new RangeError(`${op}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** NumPy broadcasting of two shapes; throws a ShapeError naming both. */
export function broadcastShapes(a: Shape, b: Shape, op = 'broadcast'): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw shapeError(op, `shapes are not broadcast-compatible at dim ${i}`, { a, b });
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * Strides for reading `shape` as if broadcast to `outShape`: broadcast dims get stride 0.
 * Used by both backends' broadcasting elementwise kernels.
 */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const s = stridesOf(shape);
  const off = outShape.length - shape.length;
  return outShape.map((_, i) => (i < off || shape[i - off] === 1 ? 0 : s[i - off]));
}

/** Axes of `outShape` that `shape` was broadcast along (to sum a gradient back). */
export function broadcastedAxes(shape: Shape, outShape: Shape): number[] {
  const off = outShape.length - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < outShape.length; i++) {
    if (i < off || (shape[i - off] === 1 && outShape[i] !== 1)) axes.push(i);
  }
  return axes;
}

export function convOutSize(inSize: number, k: number, stride: number, pad: number): number {
  return Math.floor((inSize + 2 * pad - k) / stride) + 1;
}
