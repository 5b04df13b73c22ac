// Small helpers shared by the op definitions.
import type { Backend, Storage } from '../backend/backend.js';
import { Tensor } from '../tensor.js';
import type { DType } from '../runtime/dtype.js';
import type { Shape } from '../runtime/shape.js';
import { BackendError, ShapeError, fmtShape } from '../runtime/errors.js';

export function wrap(backend: Backend, storage: Storage, shape: Shape, dtype: DType): Tensor {
  return new Tensor(backend, storage, shape, dtype);
}

/** All inputs on one backend and, for float math, one dtype. Returns the backend. */
export function sameBackend(op: string, ...ts: Tensor[]): Backend {
  const b = ts[0].backend;
  for (const t of ts) {
    if (t.backend !== b) throw new BackendError(`${op}: inputs are on different backends (${ts.map((x) => x.backend.name).join(', ')})`);
    if (t.dtype !== ts[0].dtype) throw new BackendError(`${op}: dtype mismatch (${ts.map((x) => x.dtype).join(', ')})`);
  }
  return b;
}

export function assertRank(op: string, name: string, t: Tensor, rank: number, layout?: string): void {
  if (t.rank !== rank) {
    throw new ShapeError(`${op}: ${name} must have rank ${rank}${layout ? ` (${layout})` : ''}, got ${fmtShape(t.shape)}`);
  }
}
