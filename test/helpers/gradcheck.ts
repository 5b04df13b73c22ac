// Finite-difference gradient checks in f64 on the CPU backend.
import { Tensor } from '../../src/tensor.js';
import { cpu } from '../../src/backend/registry.js';
import { grad, noGrad } from '../../src/autograd/tape.js';
import { mul, sum, randn, tensor } from '../../src/ops/index.js';
import { Rng } from '../../src/runtime/rng.js';
import type { Shape } from '../../src/runtime/shape.js';

export interface GradcheckOptions { eps?: number; atol?: number; rtol?: number; seed?: number }

/** A random f64 CPU leaf that requires grad. */
export function leaf(shape: Shape, rng: Rng, scale = 1): Tensor {
  const t = randn(shape, rng, { dtype: 'f64', backend: cpu(), std: scale });
  t.requiresGrad = true;
  return t;
}

/**
 * Compare autograd gradients of L = Σ fn(inputs)·R (R a fixed random weighting, so every
 * output element matters with a different weight) with central differences. Returns the worst
 * relative error; throws with details when over tolerance.
 */
export function gradcheck(name: string, fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], o: GradcheckOptions = {}): number {
  const eps = o.eps ?? 1e-6, atol = o.atol ?? 1e-7, rtol = o.rtol ?? 1e-5;
  const rng = new Rng(o.seed ?? 1234);
  const probe = noGrad(() => fn(...inputs));
  const R = randn(probe.shape, rng, { dtype: 'f64', backend: cpu() });
  const loss = () => sum(mul(fn(...inputs), R));
  const analytic = grad(loss(), inputs);
  let worst = 0;
  inputs.forEach((x, k) => {
    const a = analytic[k]?.dataSync() ?? new Float64Array(x.size);
    const data = x.dataSync();
    for (let i = 0; i < data.length; i++) {
      const orig = data[i];
      data[i] = orig + eps;
      const lp = noGrad(() => loss().dataSync()[0]);
      data[i] = orig - eps;
      const lm = noGrad(() => loss().dataSync()[0]);
      data[i] = orig;
      const num = (lp - lm) / (2 * eps);
      const err = Math.abs(num - a[i]);
      const rel = err / Math.max(Math.abs(num), Math.abs(a[i]), 1e-12);
      if (err > atol + rtol * Math.abs(num)) {
        throw new Error(`gradcheck ${name}: input ${k} [${x.shape}] element ${i}: analytic ${a[i]} vs numeric ${num} (abs err ${err.toExponential(2)})`);
      }
      if (err > atol) worst = Math.max(worst, rel);
    }
  });
  return worst;
}

export function f64(values: number[], shape: Shape, requiresGrad = false): Tensor {
  return tensor(values, shape, { dtype: 'f64', backend: cpu(), requiresGrad });
}
