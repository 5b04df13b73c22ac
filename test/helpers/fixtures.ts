// Loads the PyTorch golden fixtures (test/fixtures/core_*.json, made by make_core_fixtures.py)
// and compares engine tensors against them.
//
// Fixture format: inputs are float32 values written with 9 significant digits (Math.fround
// recovers the exact float32 PyTorch used); outputs are PyTorch float64 references computed from
// those exact inputs. Activations are NHWC, conv weights OIHW (the script permutes from NCHW).
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../../src/backend/backend.js';
import type { FloatDType } from '../../src/runtime/dtype.js';
import { Tensor } from '../../src/tensor.js';
import { tensor } from '../../src/ops/index.js';
import { cpu, initBackend, setDefaultBackend } from '../../src/backend/registry.js';

export interface FixtureTensor {
  shape: number[];
  data: number[];
  /** Outputs only: max|torch float32 − reference| / max|reference|. */
  torch_f32_rel_err?: number;
}

export interface FixtureCase {
  name: string;
  params: Record<string, number | boolean | string>;
  inputs: Record<string, FixtureTensor>;
  outputs: Record<string, FixtureTensor>;
}

export interface FixtureFile {
  description: string;
  layout: string;
  cases: FixtureCase[];
}

/** test/fixtures/<name>, found from the compiled (dist/test/helpers) or source (test/helpers) location. */
export function fixturePath(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'test', 'fixtures', name);
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  throw new Error(`fixture ${name} not found in test/fixtures above ${fileURLToPath(import.meta.url)}`);
}

export function loadFixture(name: string): FixtureFile {
  return JSON.parse(readFileSync(fixturePath(name), 'utf8')) as FixtureFile;
}

export function getCase(file: FixtureFile, name: string): FixtureCase {
  const c = file.cases.find((k) => k.name === name);
  if (!c) throw new Error(`fixture case ${name} not found (have: ${file.cases.map((k) => k.name).join(', ')})`);
  return c;
}

/** One engine configuration the golden tests run on. */
export interface Target {
  label: string;
  backend: Backend;
  dtype: FloatDType;
  /** Max allowed relErr (see relErr). */
  tol: number;
}

// f32: the engine's float32 result vs the float64 reference. PyTorch's own float32 result is
// ~1e-7 away under this metric (stored as torch_f32_rel_err), so 1e-4 leaves room for other
// summation orders while still catching any indexing, padding or formula mistake (those give
// errors of order 1e-1 to 1).
export const F32_TOL = 1e-4;
// f64: the same exact inputs in float64 vs a float64 reference stored with 12 digits; the only
// differences are summation order (~1e-15) and the 12-digit rounding (≤ 5e-12 per value).
export const F64_TOL = 1e-9;

export function cpuTargets(): Target[] {
  return [
    { label: 'cpu f32', backend: cpu(), dtype: 'f32', tol: F32_TOL },
    { label: 'cpu f64', backend: cpu(), dtype: 'f64', tol: F64_TOL },
  ];
}

// One WebGPU device per process: uvu runs every test file in the same process.
let gpuProbe: Promise<Backend | Error> | null = null;

/**
 * The WebGPU target when an adapter exists, else null (after printing why it is skipped).
 * The default backend is put back to the CPU: the golden tests pass backends explicitly.
 */
export async function webgpuTargetOrSkip(suite: string): Promise<Target | null> {
  gpuProbe ??= initBackend('webgpu', { quiet: true }).then((b) => b, (e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  const r = await gpuProbe;
  setDefaultBackend(cpu());
  if (r instanceof Error) {
    console.log(`  [skip] ${suite}: WebGPU cases skipped (${r.message})`);
    return null;
  }
  return { label: 'webgpu f32', backend: r, dtype: 'f32', tol: F32_TOL };
}

/** A tensor from a fixture input on the target (values are the exact float32s PyTorch used). */
export function fromFixture(ft: FixtureTensor, t: Target, requiresGrad = false): Tensor {
  const arr = t.dtype === 'f64' ? new Float64Array(ft.data.length) : new Float32Array(ft.data.length);
  for (let i = 0; i < ft.data.length; i++) arr[i] = Math.fround(ft.data[i]);
  return tensor(arr, ft.shape, { dtype: t.dtype, backend: t.backend, requiresGrad });
}

/** A fixture input as a reference (its exact float32 values), e.g. to check it was left unchanged. */
export function inputAsReference(ft: FixtureTensor): FixtureTensor {
  return { shape: ft.shape, data: ft.data.map((v) => Math.fround(v)) };
}

/**
 * max|got − ref| / max|ref|. Element-wise relative error is meaningless here: batch-norm dx,
 * bias gradients and conv outputs have entries near zero produced by cancellation, whose
 * relative error is huge even when the computation is exact up to rounding. Rounding error in
 * sums and dot products scales with the magnitude of the terms, which the tensor's largest
 * value measures, so the error is scaled by that.
 */
export function relErr(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  let maxDiff = 0, scale = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    // NaN must fail, and Math.max(NaN, ...) is NaN, so test it explicitly.
    if (Number.isNaN(d)) return Number.POSITIVE_INFINITY;
    if (d > maxDiff) maxDiff = d;
    if (Math.abs(ref[i]) > scale) scale = Math.abs(ref[i]);
  }
  return maxDiff / Math.max(scale, 1e-30);
}

/**
 * Throws (naming the case, key, shapes and error) unless `got` matches the reference within t.tol.
 * GOLDEN_VERBOSE=1 prints every measured error.
 */
export async function expectClose(got: Tensor | null, ref: FixtureTensor, t: Target, what: string): Promise<number> {
  if (!got) throw new Error(`${what} [${t.label}]: no tensor (missing gradient?)`);
  if (got.shape.length !== ref.shape.length || got.shape.some((d, i) => d !== ref.shape[i])) {
    throw new Error(`${what} [${t.label}]: shape [${got.shape}] but the fixture has [${ref.shape}]`);
  }
  const data = await got.data();
  const err = relErr(data as ArrayLike<number>, ref.data);
  if (!(err <= t.tol)) {
    let worst = 0, worstDiff = -1;
    for (let i = 0; i < ref.data.length; i++) {
      const d = Number.isNaN(data[i]) ? Number.POSITIVE_INFINITY : Math.abs(data[i] - ref.data[i]);
      if (d > worstDiff) { worst = i; worstDiff = d; }
    }
    throw new Error(`${what} [${t.label}] shape [${ref.shape}]: rel err ${err.toExponential(2)} > ${t.tol} ` +
      `${ref.torch_f32_rel_err === undefined ? '' : `(torch f32 gets ${ref.torch_f32_rel_err}) `}e.g. index ${worst}: got ${data[worst]}, expected ${ref.data[worst]}`);
  }
  if (process.env.GOLDEN_VERBOSE) console.log(`    ${t.label.padEnd(10)} ${what.padEnd(44)} rel err ${err.toExponential(2)}`);
  return err;
}
