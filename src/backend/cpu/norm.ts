// Batch-norm primitives over x viewed as [M, C] (channels last).
import type { BatchNormRunning, NormalizeEpilogue, Raw } from '../backend.js';
import { alloc, dataOf, type CpuStorage } from './storage.js';

export function moments(x: Raw): { mean: CpuStorage; variance: CpuStorage } {
  const [M, C] = [x.shape[0], x.shape[1]];
  const X = dataOf(x);
  const s = new Float64Array(C);
  for (let m = 0; m < M; m++) for (let c = 0; c < C; c++) s[c] += X[m * C + c];
  for (let c = 0; c < C; c++) s[c] /= M;
  const v = new Float64Array(C);
  for (let m = 0; m < M; m++) for (let c = 0; c < C; c++) { const d = X[m * C + c] - s[c]; v[c] += d * d; }
  for (let c = 0; c < C; c++) v[c] /= M;
  const mean = alloc(x.dtype, C), variance = alloc(x.dtype, C);
  mean.data.set(s); variance.data.set(v);
  return { mean, variance };
}

export function normalize(x: Raw, mean: Raw, invstd: Raw, gamma: Raw | null, beta: Raw | null, epi: NormalizeEpilogue = {}): CpuStorage {
  const [M, C] = [x.shape[0], x.shape[1]];
  const X = dataOf(x), mu = dataOf(mean), is = dataOf(invstd);
  const g = gamma ? dataOf(gamma) : null, b = beta ? dataOf(beta) : null;
  const R = epi.residual ? dataOf(epi.residual) : null, relu = !!epi.relu;
  const out = alloc(x.dtype, M * C);
  const Y = out.data;
  for (let m = 0; m < M; m++) for (let c = 0; c < C; c++) {
    const i = m * C + c;
    let v = (X[i] - mu[c]) * is[c] * (g ? g[c] : 1) + (b ? b[c] : 0);
    if (R) v += R[i];
    Y[i] = relu && !(v > 0) ? 0 : v;
  }
  return out;
}

/**
 * With x̂ = (x − μ)·σ⁻¹: dβ = Σdy, dγ = Σdy·x̂, dx = γσ⁻¹/M · (M·dy − dβ − x̂·dγ).
 */
export function batchNormBackward(x: Raw, dy: Raw, mean: Raw, invstd: Raw, gamma: Raw | null):
  { dx: CpuStorage; dgamma: CpuStorage; dbeta: CpuStorage } {
  const [M, C] = [x.shape[0], x.shape[1]];
  const X = dataOf(x), G = dataOf(dy), mu = dataOf(mean), is = dataOf(invstd);
  const g = gamma ? dataOf(gamma) : null;
  const sdy = new Float64Array(C), sdyx = new Float64Array(C);
  for (let m = 0; m < M; m++) for (let c = 0; c < C; c++) {
    const i = m * C + c;
    sdy[c] += G[i];
    sdyx[c] += G[i] * (X[i] - mu[c]) * is[c];
  }
  const dx = alloc(x.dtype, M * C), D = dx.data;
  for (let m = 0; m < M; m++) for (let c = 0; c < C; c++) {
    const i = m * C + c;
    const xh = (X[i] - mu[c]) * is[c];
    D[i] = ((g ? g[c] : 1) * is[c] / M) * (M * G[i] - sdy[c] - xh * sdyx[c]);
  }
  const dgamma = alloc(x.dtype, C), dbeta = alloc(x.dtype, C);
  dgamma.data.set(sdyx); dbeta.data.set(sdy);
  return { dx, dgamma, dbeta };
}

export function batchNormFinalize(mean: Raw, variance: Raw, eps: number, running: BatchNormRunning | null): CpuStorage {
  const mu = dataOf(mean), v = dataOf(variance);
  const C = mu.length;
  const out = alloc(mean.dtype, C);
  for (let c = 0; c < C; c++) out.data[c] = 1 / Math.sqrt(v[c] + eps);
  if (running) {
    const rm = dataOf(running.mean), rv = dataOf(running.variance), m = running.momentum;
    const unbias = running.n / Math.max(running.n - 1, 1);
    for (let c = 0; c < C; c++) {
      rm[c] = (1 - m) * rm[c] + m * mu[c];
      rv[c] = (1 - m) * rv[c] + m * v[c] * unbias;
    }
    if (running.count) dataOf(running.count)[0] += 1;
  }
  return out;
}

/** The reference composition: moments, then batchNormFinalize on them. */
export function batchStatistics(x: Raw, eps: number, running: BatchNormRunning | null): { mean: CpuStorage; invstd: CpuStorage } {
  const { mean, variance } = moments(x);
  const C = x.shape[1];
  const invstd = batchNormFinalize({ storage: mean, shape: [C], dtype: x.dtype }, { storage: variance, shape: [C], dtype: x.dtype }, eps, running);
  return { mean, invstd };
}
