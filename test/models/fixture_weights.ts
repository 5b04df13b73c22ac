// The weight formula shared with test/fixtures/make_resnet18_fixture.py: both sides generate
// identical float32 weights from parameter names, so the fixture only stores outputs.
//   u_i = ((i·7919 + seed(name)) mod 10007) / 10007 − 0.5,  seed = polynomial hash mod 1000003.
// Every step is exact (integers < 2^53, one correctly rounded division, exact subtraction, an
// IEEE sqrt), so float64 values agree bit for bit before the final rounding to float32.
import type { Module } from '../../src/nn/module.js';
import type { Tensor } from '../../src/tensor.js';
import { tensor } from '../../src/ops/index.js';

export function seedOf(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) % 1000003;
  return h;
}

export function formula(name: string, n: number): Float64Array {
  const h = seedOf(name), out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = ((i * 7919 + h) % 10007) / 10007 - 0.5;
  return out;
}

/** The value the fixture script assigns to a state-dict entry (rounded to float32). */
export function valueFor(name: string, shape: readonly number[]): Float32Array | Int32Array {
  const n = shape.reduce((a, d) => a * d, 1);
  if (name.endsWith('num_batches_tracked')) return new Int32Array(n);
  const u = formula(name, n);
  let f: (v: number) => number;
  if (name.endsWith('running_mean')) f = (v) => 0.1 * v;
  else if (name.endsWith('running_var')) f = (v) => 1 + 0.4 * (v + 0.5);
  else if (shape.length === 4) { const s = Math.sqrt(24 / (shape[1] * shape[2] * shape[3])); f = (v) => v * s; }
  else if (name.endsWith('weight')) f = (v) => 1 + 0.2 * v;
  else f = (v) => 0.1 * v;
  return Float32Array.from(u, f);
}

/** Overwrite every parameter and buffer of a module with the formula's values. */
export function fillFromFormula(m: Module): void {
  const state = new Map<string, Tensor>();
  for (const [name, t] of m.stateDict()) {
    const v = valueFor(name, t.shape);
    const data = t.dtype === 'f64' ? Float64Array.from(v) : v;
    state.set(name, tensor(data, t.shape, { dtype: t.dtype, backend: t.backend }));
  }
  m.loadStateDict(state);
  for (const t of state.values()) t.dispose();
}
