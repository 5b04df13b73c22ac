// Batch-norm primitives over x viewed as [M, C] (channels last).
import type { BatchNormRunning, GradInto, NormalizeEpilogue, Raw } from '../backend.js';
import { alloc, allocInto, dataOf, type CpuStorage } from './storage.js';
import { numel } from '../../runtime/shape.js';

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

/** Row groups G of statistics [G, C] (or [C]) for x [rows, C]. */
function groupsOf(rows: number, C: number, stats: Raw): number {
  const G = numel(stats.shape) / C;
  if (!Number.isInteger(G) || G < 1 || rows % G !== 0) throw new Error(`batch norm: statistics [${stats.shape}] for ${rows} rows of ${C} channels`);
  return G;
}

export function normalize(x: Raw, mean: Raw, invstd: Raw, gamma: Raw | null, beta: Raw | null, epi: NormalizeEpilogue = {}): CpuStorage {
  const [M, C] = [x.shape[0], x.shape[1]];
  const X = dataOf(x), mu = dataOf(mean), is = dataOf(invstd);
  const perGroup = M / groupsOf(M, C, mean);
  const g = gamma ? dataOf(gamma) : null, b = beta ? dataOf(beta) : null;
  const R = epi.residual ? dataOf(epi.residual) : null, relu = !!epi.relu;
  const out = alloc(x.dtype, M * C);
  const Y = out.data;
  for (let m = 0; m < M; m++) {
    const base = Math.floor(m / perGroup) * C; // the row's statistics group, once per row
    for (let c = 0; c < C; c++) {
      const i = m * C + c, s = base + c;
      let v = (X[i] - mu[s]) * is[s] * (g ? g[c] : 1) + (b ? b[c] : 0);
      if (R) v += R[i];
      Y[i] = relu && !(v > 0) ? 0 : v;
    }
  }
  return out;
}

/**
 * With x̂ = (x − μ)·σ⁻¹: dβ = Σdy, dγ = Σdy·x̂, dx = γσ⁻¹/M · (M·dy − dβ − x̂·dγ), the sums and
 * statistics taken per group of rows (dγ, dβ returned summed over the groups).
 */
export function batchNormBackward(x: Raw, dy: Raw, mean: Raw, invstd: Raw, gamma: Raw | null, into: GradInto = {}, reluOut: Raw | null = null,
  reluFromInput: { beta: Raw | null } | null = null):
  { dx: CpuStorage; dgamma: CpuStorage; dbeta: CpuStorage; dyMasked?: CpuStorage } {
  const [rows, C] = [x.shape[0], x.shape[1]];
  // The mask of a ReLU whose output was never stored: where the normalised x is not positive.
  if (!reluOut && reluFromInput) reluOut = { storage: normalize(x, mean, invstd, gamma, reluFromInput.beta, { relu: true }), shape: x.shape, dtype: x.dtype };
  const X = dataOf(x), mu = dataOf(mean), is = dataOf(invstd);
  let G = dataOf(dy), dyMasked: CpuStorage | undefined;
  if (reluOut) {
    const Y = dataOf(reluOut), D = G;
    dyMasked = alloc(dy.dtype, D.length);
    for (let i = 0; i < D.length; i++) dyMasked.data[i] = Y[i] > 0 ? D[i] : 0;
    G = dyMasked.data;
  }
  const groups = groupsOf(rows, C, mean), M = rows / groups;
  const g = gamma ? dataOf(gamma) : null;
  const sdy = new Float64Array(groups * C), sdyx = new Float64Array(groups * C);
  for (let m = 0; m < rows; m++) {
    const base = Math.floor(m / M) * C;
    for (let c = 0; c < C; c++) {
      const i = m * C + c, s = base + c;
      sdy[s] += G[i];
      sdyx[s] += G[i] * (X[i] - mu[s]) * is[s];
    }
  }
  const dx = alloc(x.dtype, rows * C), D = dx.data;
  for (let m = 0; m < rows; m++) {
    const base = Math.floor(m / M) * C;
    for (let c = 0; c < C; c++) {
      const i = m * C + c, s = base + c;
      const xh = (X[i] - mu[s]) * is[s];
      D[i] = ((g ? g[c] : 1) * is[s] / M) * (M * G[i] - sdy[s] - xh * sdyx[s]);
    }
  }
  const dgamma = allocInto(x.dtype, C, into.dgamma), dbeta = allocInto(x.dtype, C, into.dbeta);
  for (let k = 0; k < groups; k++) for (let c = 0; c < C; c++) {
    dgamma.data[c] += sdyx[k * C + c];
    dbeta.data[c] += sdy[k * C + c];
  }
  return dyMasked ? { dx, dgamma, dbeta, dyMasked } : { dx, dgamma, dbeta };
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

/**
 * The reference composition: per group of rows, moments then batchNormFinalize on them (the
 * running statistics updated once per group, in order).
 */
export function batchStatistics(x: Raw, eps: number, running: BatchNormRunning | null, groups = 1): { mean: CpuStorage; invstd: CpuStorage } {
  const [rows, C] = [x.shape[0], x.shape[1]];
  if (rows === 0 || !Number.isInteger(groups) || groups < 1 || rows % groups !== 0) {
    throw new Error(`batchStatistics: [${rows}, ${C}] cannot be split into ${groups} non-empty groups of rows`);
  }
  const M = rows / groups, X = dataOf(x);
  const mean = alloc(x.dtype, groups * C), invstd = alloc(x.dtype, groups * C);
  for (let g = 0; g < groups; g++) {
    const part = alloc(x.dtype, M * C);
    part.data.set(X.subarray(g * M * C, (g + 1) * M * C));
    const mv = moments({ storage: part, shape: [M, C], dtype: x.dtype });
    const is = batchNormFinalize({ storage: mv.mean, shape: [C], dtype: x.dtype }, { storage: mv.variance, shape: [C], dtype: x.dtype }, eps,
      running ? { ...running, n: M } : null);
    mean.data.set(mv.mean.data, g * C);
    invstd.data.set(is.data, g * C);
  }
  return { mean, invstd };
}
