// Building uniform blocks that match WGSL struct layout: u32/i32/f32 fields of 4 bytes and
// vec4<u32> fields (16-byte aligned), written into one reusable scratch buffer.
export class Params {
  private readonly buf = new ArrayBuffer(1024); // the largest block: strided conv dx, 576 bytes
  private readonly u = new Uint32Array(this.buf);
  private readonly f = new Float32Array(this.buf);
  private readonly i = new Int32Array(this.buf);
  private n = 0; // words written

  u32(...v: number[]): this { for (const x of v) this.u[this.n++] = x >>> 0; return this; }
  i32(...v: number[]): this { for (const x of v) this.i[this.n++] = x | 0; return this; }
  f32(...v: number[]): this { for (const x of v) this.f[this.n++] = x; return this; }
  /** Pad to the next 16-byte boundary. */
  align(): this { while (this.n % 4) this.u[this.n++] = 0; return this; }
  /** `count` vec4<u32> holding `values` (zero padded): an `array<vec4u, count>` field. */
  vec4s(values: readonly number[], count: number): this {
    this.align();
    for (let k = 0; k < 4 * count; k++) this.u[this.n++] = (values[k] ?? 0) >>> 0;
    return this;
  }
  /** The block, padded to 16 bytes (a view: dispatch copies it at once). */
  bytes(): Uint8Array { this.align(); return new Uint8Array(this.buf, 0, this.n * 4); }
  /** Start over (for reuse from the ring below). */
  reset(): this { this.n = 0; return this; }
}

// A small ring of builders instead of a new one per dispatch: a training step records thousands
// of dispatches, and four short-lived objects each were a measurable share of the host time (GC).
// A block is copied into the uniform arena by dispatch(), so a builder is free again long before
// the ring comes round (RING builders later).
const RING = 32;
const ring = Array.from({ length: RING }, () => new Params());
let next = 0;

export function params(): Params {
  const p = ring[next];
  next = (next + 1) % RING;
  return p.reset();
}
