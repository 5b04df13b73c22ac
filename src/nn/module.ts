// Modules: named parameters and buffers in torchvision's naming (`layer1.0.conv1.weight`),
// train/eval mode, and state dicts for checkpoints.
import { Tensor, keep, outsideScopes } from '../tensor.js';
import type { Backend } from '../backend/backend.js';
import { defaultBackend } from '../backend/registry.js';
import { fmtShape, ShapeError } from '../runtime/errors.js';
import { sameShape } from '../runtime/shape.js';

export abstract class Module {
  training = true;
  private readonly params = new Map<string, Tensor>();
  private readonly bufs = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  abstract forward(...args: Tensor[]): Tensor;

  /** Parameters are leaves that require grad and outlive every tidy scope. */
  protected param(name: string, t: Tensor): Tensor {
    t.requiresGrad = true;
    t.name = name;
    this.params.set(name, keep(t));
    return t;
  }

  /** Buffers (running statistics) are saved in checkpoints but receive no gradient. */
  protected buffer(name: string, t: Tensor): Tensor {
    t.name = name;
    this.bufs.set(name, keep(t));
    return t;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** Replace a parameter or buffer's tensor (loading, moving between backends). */
  protected replaceTensor(name: string, t: Tensor): void {
    const map = this.params.has(name) ? this.params : this.bufs;
    const old = map.get(name)!;
    t.requiresGrad = old.requiresGrad;
    t.name = name;
    map.set(name, keep(t));
    (this as Record<string, unknown>)[name] === old && ((this as Record<string, unknown>)[name] = t);
    old.dispose();
  }

  *namedChildren(): IterableIterator<[string, Module]> { yield* this.children; }

  *namedModules(prefix = ''): IterableIterator<[string, Module]> {
    yield [prefix, this];
    for (const [n, c] of this.children) yield* c.namedModules(prefix ? `${prefix}.${n}` : n);
  }

  *namedParameters(prefix = ''): IterableIterator<[string, Tensor]> {
    for (const [n, p] of this.params) yield [prefix ? `${prefix}.${n}` : n, p];
    for (const [n, c] of this.children) yield* c.namedParameters(prefix ? `${prefix}.${n}` : n);
  }

  *namedBuffers(prefix = ''): IterableIterator<[string, Tensor]> {
    for (const [n, b] of this.bufs) yield [prefix ? `${prefix}.${n}` : n, b];
    for (const [n, c] of this.children) yield* c.namedBuffers(prefix ? `${prefix}.${n}` : n);
  }

  parameters(): Tensor[] { return [...this.namedParameters()].map(([, p]) => p); }

  /** Parameters then buffers, by full name. */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Load tensors by name (shapes must match). Returns the names that were missing from
   * `state` and the names in `state` that this module does not have.
   */
  loadStateDict(state: Map<string, Tensor>, strict = true): { missing: string[]; unexpected: string[] } {
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !state.has(k));
    const unexpected = [...state.keys()].filter((k) => !own.has(k));
    if (strict && (missing.length || unexpected.length)) {
      throw new Error(`loadStateDict: missing [${missing.join(', ')}], unexpected [${unexpected.join(', ')}]`);
    }
    for (const [name, t] of state) {
      const mine = own.get(name);
      if (!mine) continue;
      if (!sameShape(mine.shape, t.shape)) {
        throw new ShapeError(`loadStateDict: ${name} has shape ${fmtShape(t.shape)} but the module expects ${fmtShape(mine.shape)}`);
      }
      mine.backend.copyInto(mine, 0, t.backend === mine.backend && t.dtype === mine.dtype ? t : castTo(t, mine));
    }
    return { missing, unexpected };
  }

  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  eval(): this { return this.train(false); }

  zeroGrad(): void {
    for (const p of this.parameters()) { p.grad?.dispose(); p.grad = null; }
  }

  numParameters(): number { return this.parameters().reduce((a, p) => a + p.size, 0); }
}

function castTo(t: Tensor, like: Tensor): Tensor {
  if (t.backend !== like.backend) {
    throw new Error(`loadStateDict: ${t.name ?? 'tensor'} is on ${t.backend.name}, module on ${like.backend.name}; move it first`);
  }
  return outsideScopes(() => new Tensor(t.backend, t.backend.cast(t, like.dtype), t.shape, like.dtype));
}

/** Where new modules put their tensors, unless told otherwise. */
export interface ModuleOptions { backend?: Backend; dtype?: 'f32' | 'f64' }
export function resolveBackend(o?: ModuleOptions): Backend { return o?.backend ?? defaultBackend(); }
