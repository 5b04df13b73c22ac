// Flat-buffer training updates on WebGPU vs the CPU: EMA and SGD / LARS / AdamW steps over
// segments with gaps between them (64-element alignment), adapted and non-adapted. The per-step
// values (τ; lr and AdamW's bias corrections) live in device tensors rewritten between steps, and
// both backends must read each tensor's current value (a replayed step reads them the same way).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { optimizerHyperValues, type Backend, type OptimizerHyper, type OptimizerKind, type Raw } from '../../src/backend/backend.js';
import { cpu } from '../../src/backend/registry.js';
import { gpuBackendOrSkip, gpuHandle, randomTensor, toRaw } from '../helpers/gpu.js';
import { overrideSoftwareDevice } from '../../src/backend/webgpu/ops/gemm.js';

const SUITE = 'webgpu optim';
const N = 6000;
// Segments (offset, size, adapt) with gaps; the last is large enough for the GPU's LARS norms to
// split it in 32 parts of uneven use, the small ones leave most of their parts empty.
const SEGMENTS = Int32Array.from([0, 70, 1, 128, 5, 0, 192, 150, 1, 384, 1, 1, 448, 5491, 1]);
const H: OptimizerHyper = { weightDecay: 1e-2, momentum: 0.9, eta: 0.02, clipLr: true, eps: 1e-8, beta1: 0.9, beta2: 0.99 };
const f32 = (v: number[]) => ({ data: Float32Array.from(v), shape: [v.length], dtype: 'f32' as const });

async function run(be: Backend, kind: OptimizerKind, steps: number): Promise<Float32Array[]> {
  const [w, g, m, v] = [1, 2, 3, 4].map((s) => toRaw(be, randomTensor([N], s, s > 2 ? { lo: 0, hi: 0.1 } : {})));
  const seg: Raw = toRaw(be, { data: SEGMENTS, shape: [SEGMENTS.length / 3, 3], dtype: 'i32' });
  const hyper = toRaw(be, f32([0, 0, 0, 0]));
  for (let s = 1; s <= steps; s++) {
    be.write(hyper, optimizerHyperValues(0.1 / s, s, H.beta1, H.beta2));
    be.optimizerStep(kind, w, g, m, kind === 'adamw' ? v : null, seg, hyper, H);
  }
  be.emaUpdate(v, w, toRaw(be, f32([0.99])));
  return Promise.all([w, m, v].map(async (r) => (await be.download(r)) as Float32Array));
}

for (const routing of ['default', 'gpu'] as const) test(`optimizer steps and EMA match the CPU (${routing} routing)`, async () => {
  const gpu = await gpuBackendOrSkip(SUITE);
  if (!gpu) return;
  const rt = (await gpuHandle())!.runtime;
  if (routing === 'gpu') overrideSoftwareDevice(rt, false); // LARS norms in 32 parts per segment
  try { for (const kind of ['sgd', 'lars', 'adamw'] as OptimizerKind[]) {
    const [got, want] = [await run(gpu, kind, 3), await run(cpu(), kind, 3)];
    for (const [k, name] of ['param', 'state1', 'ema'].entries()) {
      got[k].forEach((x, i) => assert.ok(Math.abs(x - want[k][i]) <= 1e-6 + 1e-5 * Math.abs(want[k][i]),
        `${kind} ${name}[${i}]: gpu ${x} cpu ${want[k][i]}`));
    }
  } } finally {
    if (routing === 'gpu') overrideSoftwareDevice(rt, null);
  }
});

// ---- the per-step tensors are read when the step runs, against an f64 reference

// Two segments: adapted (weight decay, LARS) and not.
const SMALL = Int32Array.from([0, 40, 1, 64, 20, 0]);

/** The rules of backend/cpu/optim.ts in f64, with lr and step given directly. */
function reference(kind: OptimizerKind, w: number[], g: number[], m: number[], v: number[], lr: number, step: number): void {
  const h = H;
  for (let s = 0; s < SMALL.length; s += 3) {
    const off = SMALL[s], n = SMALL[s + 1], adapt = SMALL[s + 2] === 1;
    const idx = Array.from({ length: n }, (_, k) => off + k);
    if (kind === 'adamw') {
      const wd = adapt ? h.weightDecay : 0;
      for (const i of idx) {
        m[i] = h.beta1 * m[i] + (1 - h.beta1) * g[i];
        v[i] = h.beta2 * v[i] + (1 - h.beta2) * g[i] * g[i];
        const mh = m[i] / (1 - h.beta1 ** step), vh = v[i] / (1 - h.beta2 ** step);
        w[i] -= lr * (mh / (Math.sqrt(vh) + h.eps) + wd * w[i]);
      }
      continue;
    }
    let scale = 1, wd = adapt ? h.weightDecay : 0;
    if (kind === 'lars' && adapt) {
      const wn = Math.hypot(...idx.map((i) => w[i])), gn = Math.hypot(...idx.map((i) => g[i]));
      scale = Math.min(h.eta * wn / (gn + wn * h.weightDecay + h.eps) / lr, 1);
    }
    for (const i of idx) {
      m[i] = h.momentum * m[i] + (g[i] + wd * w[i]) * scale;
      w[i] -= lr * m[i];
    }
  }
}

// lr falls 500×: LARS's clipped scale min(local_lr/lr, 1) is about 0.04 at the first step and 1 at
// the second, so a stale lr in either kernel (or a stale bias correction) is far off.
const LRS = [0.5, 0.001, 0.2];

for (const backend of ['cpu', 'webgpu'] as const) {
  test(`optimizerStep reads the hyper tensor's current lr and bias corrections (${backend})`, async () => {
    const be = backend === 'cpu' ? cpu() : await gpuBackendOrSkip(SUITE);
    if (!be) return;
    for (const kind of ['sgd', 'lars', 'adamw'] as OptimizerKind[]) {
      const host = [11, 12, 13, 14].map((s) => randomTensor([84], s, s > 12 ? { lo: 0, hi: 0.1 } : {}));
      const [w, g, m, v] = host.map((t) => toRaw(be, t));
      const seg = toRaw(be, { data: SMALL, shape: [2, 3], dtype: 'i32' });
      const hyper = toRaw(be, f32([0, 0, 0, 0]));
      const [rw, rg, rm, rv] = host.map((t) => Array.from(t.data));
      // All steps recorded before any read-back: each write must be ordered between them.
      LRS.forEach((lr, k) => {
        be.write(hyper, optimizerHyperValues(lr, k + 1, H.beta1, H.beta2));
        be.optimizerStep(kind, w, g, m, kind === 'adamw' ? v : null, seg, hyper, H);
        reference(kind, rw, rg, rm, rv, lr, k + 1);
      });
      const [gw, gm] = [await be.download(w), await be.download(m)];
      for (let i = 0; i < 84; i++) {
        for (const [name, got, want] of [['param', gw, rw], ['state1', gm, rm]] as const) {
          assert.ok(Math.abs(got[i] - want[i]) <= 1e-6 + 1e-5 * Math.abs(want[i]), `${kind} ${name}[${i}]: ${got[i]} vs f64 ${want[i]}`);
        }
      }
    }
  });

  test(`emaUpdate reads the tau tensor's current value (${backend})`, async () => {
    const be = backend === 'cpu' ? cpu() : await gpuBackendOrSkip(SUITE);
    if (!be) return;
    const [t0, s0] = [21, 22].map((s) => randomTensor([300], s));
    const [target, source] = [t0, s0].map((t) => toRaw(be, t));
    const tau = toRaw(be, f32([0]));
    const want = Array.from(t0.data);
    for (const k of [0.9, 0.25, 0.99]) {
      be.write(tau, Float32Array.of(k));
      be.emaUpdate(target, source, tau);
      const kf = Math.fround(k);
      want.forEach((x, i) => { want[i] = kf * x + (1 - kf) * s0.data[i]; });
    }
    const got = await be.download(target);
    want.forEach((x, i) => assert.ok(Math.abs(got[i] - x) <= 1e-6 + 1e-5 * Math.abs(x), `[${i}]: ${got[i]} vs f64 ${x}`));
  });
}

test.run();
