// A shape-level walk over a real module tree: for a given input shape it follows the same
// path as forward() without touching any data, and records per layer the output shape, the
// multiply-accumulates and the parameters, plus the receptive field along the main path.
//
// Conventions (those of the paper's Table 11 and of fvcore/torchvision figures):
// - MACs count convolutions and linear layers only (one MAC per weight use; bias adds are
//   not counted). Batch norm can be included with `countBatchNorm` (one MAC per element,
//   i.e. the folded scale-and-shift); ReLU, pooling and residual adds are never counted.
// - Receptive field (Appendix B.1, Araujo et al. 2019): RF = Σ_l (k_l − 1)·Π_{i<l} s_i + 1 along
//   the main path. Layers traced inside `branch()` (shortcuts) add nothing; 1×1 convs add 0.
import { Module } from '../nn/module.js';
import { Conv2d, Linear, BatchNorm1d, BatchNorm2d, ReLU, GELU, Identity, Sequential } from '../nn/layers.js';
import { convOutSize, numel, type Shape } from '../runtime/shape.js';
import { fmtShape, ShapeError } from '../runtime/errors.js';

/** A composite module that knows its own forward data path at the shape level. */
export interface Traceable {
  trace(x: Shape, t: Tracer, name: string): Shape;
}

export function isTraceable(m: unknown): m is Module & Traceable {
  return m instanceof Module && typeof (m as Partial<Traceable>).trace === 'function';
}

export interface LayerRow {
  name: string;
  op: 'conv' | 'linear' | 'batchnorm' | 'maxpool' | 'avgpool';
  inShape: number[];
  outShape: number[];
  kernel?: number;
  stride?: number;
  padding?: number;
  macs: number;
  params: number;
  /** RF after this layer along the main path (null inside a shortcut branch and after global pooling). */
  rf: number | null;
}

export interface TraceOptions { countBatchNorm?: boolean }

export class Tracer {
  readonly rows: LayerRow[] = [];
  macs = 0;
  /** Receptive field and cumulative stride ("jump") along the main path. */
  rf = 1;
  jump = 1;
  private inBranch = 0;
  private pooled = false;
  private readonly marks = new Map<string, { shape: number[]; rf: number; jump: number }>();

  constructor(readonly opts: TraceOptions = {}) {}

  /** Trace one module: composite modules trace themselves, nn layers have built-in rules. */
  run(m: Module, name: string, x: Shape): Shape {
    if (isTraceable(m)) return m.trace(x, this, name);
    if (m instanceof Conv2d) return this.conv(m, name, x);
    if (m instanceof Linear) return this.linear(m, name, x);
    if (m instanceof BatchNorm2d || m instanceof BatchNorm1d) return this.batchNorm(m, name, x);
    if (m instanceof Sequential) {
      let y = x;
      m.layers.forEach((l, i) => { y = this.run(l, name ? `${name}.${i}` : String(i), y); });
      return y;
    }
    if (m instanceof ReLU || m instanceof GELU || m instanceof Identity) return x;
    throw new Error(`trace: no shape rule for ${m.constructor.name} at '${name}'; give it a trace() method`);
  }

  conv(m: Conv2d, name: string, x: Shape): Shape {
    if (x.length !== 4 || x[3] !== m.inChannels) {
      throw new ShapeError(`trace: ${name} (Conv2d ${m.inChannels}→${m.outChannels}) expects [N, H, W, ${m.inChannels}], got ${fmtShape(x)}`);
    }
    const [N, H, W] = x;
    const k = m.kernelSize;
    const Ho = convOutSize(H, k, m.stride, m.padding), Wo = convOutSize(W, k, m.stride, m.padding);
    if (Ho <= 0 || Wo <= 0) throw new ShapeError(`trace: ${name} kernel ${k} does not fit its ${H}×${W} input`);
    const out = [N, Ho, Wo, m.outChannels];
    const macs = N * Ho * Wo * m.outChannels * m.inChannels * k * k;
    this.spatialStep(k, m.stride);
    this.push({ name, op: 'conv', inShape: [...x], outShape: out, kernel: k, stride: m.stride, padding: m.padding, macs, params: paramsOf(m) });
    return out;
  }

  linear(m: Linear, name: string, x: Shape): Shape {
    if (x[x.length - 1] !== m.inFeatures) {
      throw new ShapeError(`trace: ${name} (Linear ${m.inFeatures}→${m.outFeatures}) got ${fmtShape(x)}`);
    }
    const out = [...x.slice(0, -1), m.outFeatures];
    this.push({ name, op: 'linear', inShape: [...x], outShape: out, macs: numel(x) * m.outFeatures, params: paramsOf(m) });
    return out;
  }

  batchNorm(m: BatchNorm1d | BatchNorm2d, name: string, x: Shape): Shape {
    if (x[x.length - 1] !== m.numFeatures) {
      throw new ShapeError(`trace: ${name} (BatchNorm ${m.numFeatures}) got ${fmtShape(x)}`);
    }
    const macs = this.opts.countBatchNorm ? numel(x) : 0;
    this.push({ name, op: 'batchnorm', inShape: [...x], outShape: [...x], macs, params: paramsOf(m) });
    return x;
  }

  maxPool(name: string, x: Shape, kernel: number, stride: number, padding: number): Shape {
    const [N, H, W, C] = x;
    const out = [N, convOutSize(H, kernel, stride, padding), convOutSize(W, kernel, stride, padding), C];
    this.spatialStep(kernel, stride);
    this.push({ name, op: 'maxpool', inShape: [...x], outShape: out, kernel, stride, padding, macs: 0, params: 0 });
    return out;
  }

  /** Global average pooling [N, H, W, C] → [N, C] (ends the spatial path: RF is frozen). */
  globalAvgPool(name: string, x: Shape): Shape {
    const out = [x[0], x[3]];
    this.push({ name, op: 'avgpool', inShape: [...x], outShape: out, macs: 0, params: 0 });
    this.pooled = true;
    return out;
  }

  /** Trace a side branch (a shortcut): counted, but it does not change the main path's RF. */
  branch<T>(fn: () => T): T {
    this.inBranch++;
    try { return fn(); } finally { this.inBranch--; }
  }

  /** Remember shape and RF at a named point (e.g. 'localMap'). */
  mark(label: string, shape: Shape): void {
    this.marks.set(label, { shape: [...shape], rf: this.rf, jump: this.jump });
  }

  at(label: string): { shape: number[]; rf: number; jump: number } {
    const m = this.marks.get(label);
    if (!m) throw new Error(`trace: no mark '${label}' (marks: ${[...this.marks.keys()].join(', ') || 'none'})`);
    return m;
  }

  private spatialStep(kernel: number, stride: number): void {
    if (this.inBranch || this.pooled) return;
    this.rf += (kernel - 1) * this.jump;
    this.jump *= stride;
  }

  private push(r: Omit<LayerRow, 'rf'>): void {
    this.macs += r.macs;
    this.rows.push({ ...r, rf: this.inBranch || this.pooled ? null : this.rf });
  }
}

function paramsOf(m: Module): number {
  return m.parameters().reduce((a, p) => a + p.size, 0);
}

/** Trace a module on an input shape; returns the tracer (rows, MACs, marks). */
export function traceModule(m: Module, input: Shape, opts: TraceOptions = {}): { tracer: Tracer; output: number[] } {
  const tracer = new Tracer(opts);
  const output = [...tracer.run(m, '', input)];
  return { tracer, output };
}
