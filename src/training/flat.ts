// Flat buffers: every parameter of a model becomes a view into one buffer (and its gradient and
// optimiser state live in buffers of the same layout), so EMA, LARS and SGD are a few
// dispatches for the whole model instead of a few per tensor.
import type { Backend } from '../backend/backend.js';
import { Tensor, keep, outsideScopes } from '../tensor.js';
import { tensor, zeros } from '../ops/index.js';

/** Offsets are multiples of 64 elements (256 bytes: WebGPU's storage-offset alignment). */
const ALIGN = 64;

export interface FlatEntry { name: string; tensor: Tensor; offset: number; size: number; adapt: boolean }

export class FlatBuffer {
  readonly entries: FlatEntry[];
  readonly size: number;
  /** The flat storage as a 1-D tensor (views of it back every entry's tensor). */
  readonly flat: Tensor;
  /** i32 [S, 3]: (offset, size, adapt) per tensor, for the fused optimiser kernels. */
  readonly segments: Tensor;

  /**
   * @param named tensors to pack, in order (their current values are copied in)
   * @param adapt whether a tensor gets weight decay / LARS adaptation (default: rank > 1,
   *              so biases and norm parameters are excluded, as solo-learn does)
   */
  constructor(readonly backend: Backend, named: [string, Tensor][], adapt: (name: string, t: Tensor) => boolean = (_n, t) => t.rank > 1) {
    let off = 0;
    this.entries = named.map(([name, t]) => {
      const e = { name, tensor: t, offset: off, size: t.size, adapt: adapt(name, t) };
      off += Math.ceil(t.size / ALIGN) * ALIGN;
      return e;
    });
    this.size = Math.max(off, ALIGN);
    this.flat = outsideScopes(() => keep(zeros([this.size], { backend, dtype: named[0]?.[1].dtype ?? 'f32' })));
    for (const e of this.entries) {
      backend.copyInto(this.flat, e.offset, e.tensor);
      e.tensor.rebind(backend.view(this.flat.storage, e.offset, e.size, e.tensor.dtype));
    }
    const seg = new Int32Array(this.entries.length * 3);
    this.entries.forEach((e, i) => seg.set([e.offset, e.size, e.adapt ? 1 : 0], i * 3));
    this.segments = outsideScopes(() => keep(tensor(seg, [this.entries.length, 3], { backend, dtype: 'i32' })));
  }

  /** A zeroed buffer with this layout (gradients, momentum, Adam moments). */
  zerosLike(): Tensor {
    return outsideScopes(() => keep(zeros([this.size], { backend: this.backend, dtype: this.flat.dtype })));
  }

  /**
   * Make `into`'s segments the tensors' gradient sinks: backward() then has ops that can (conv
   * and linear weights, batch-norm parameters) write each gradient in place, and gatherGrads
   * skips those.
   */
  sinkGradsInto(into: Tensor): void {
    for (const e of this.entries) {
      e.tensor.gradSink?.dispose();
      e.tensor.gradSink = outsideScopes(() => keep(new Tensor(this.backend, this.backend.view(into.storage, e.offset, e.size, into.dtype), e.tensor.shape, into.dtype)));
    }
  }

  /** Copy each tensor's `.grad` into `into` at its offset (missing gradients count as zero). */
  gatherGrads(into: Tensor): void {
    for (const e of this.entries) {
      const g = e.tensor.grad;
      if (g && e.tensor.gradSink && g.storage === e.tensor.gradSink.storage) continue; // written in place
      if (g) { this.backend.copyInto(into, e.offset, g); continue; }
      const z = outsideScopes(() => zeros([e.size], { backend: this.backend, dtype: into.dtype }));
      this.backend.copyInto(into, e.offset, z);
      z.dispose();
    }
  }
}
