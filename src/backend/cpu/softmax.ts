// Softmax family over the last axis, and integer-label cross-entropy.
import type { Raw } from '../backend.js';
import { alloc, dataOf, type CpuStorage } from './storage.js';

function rows(x: Raw): [number, number] {
  const K = x.shape[x.shape.length - 1];
  return [K === 0 ? 0 : dataOf(x).length / K, K];
}

export function softmax(x: Raw, logSpace: boolean): CpuStorage {
  const [R, K] = rows(x);
  const X = dataOf(x);
  const out = alloc(x.dtype, R * K), Y = out.data;
  for (let r = 0; r < R; r++) {
    const o = r * K;
    let mx = -Infinity;
    for (let k = 0; k < K; k++) mx = Math.max(mx, X[o + k]);
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(X[o + k] - mx);
    const ls = Math.log(s);
    for (let k = 0; k < K; k++) Y[o + k] = logSpace ? X[o + k] - mx - ls : Math.exp(X[o + k] - mx) / s;
  }
  return out;
}

export function softmaxBackward(y: Raw, dy: Raw, logSpace: boolean): CpuStorage {
  const [R, K] = rows(y);
  const Y = dataOf(y), G = dataOf(dy);
  const out = alloc(y.dtype, R * K), D = out.data;
  for (let r = 0; r < R; r++) {
    const o = r * K;
    let s = 0;
    if (logSpace) {
      // y = log p: dx = dy − p·Σdy
      for (let k = 0; k < K; k++) s += G[o + k];
      for (let k = 0; k < K; k++) D[o + k] = G[o + k] - Math.exp(Y[o + k]) * s;
    } else {
      // y = p: dx = p·(dy − Σ p·dy)
      for (let k = 0; k < K; k++) s += Y[o + k] * G[o + k];
      for (let k = 0; k < K; k++) D[o + k] = Y[o + k] * (G[o + k] - s);
    }
  }
  return out;
}

export function crossEntropy(logits: Raw, labels: Raw): CpuStorage {
  const [N, K] = [logits.shape[0], logits.shape[1]];
  const lp = softmax(logits, true).data, L = dataOf(labels);
  const out = alloc(logits.dtype, N);
  for (let n = 0; n < N; n++) {
    const l = L[n];
    if (l < 0 || l >= K) throw new RangeError(`crossEntropy: label ${l} at row ${n} is outside [0, ${K})`);
    out.data[n] = -lp[n * K + l];
  }
  return out;
}

export function crossEntropyBackward(logits: Raw, labels: Raw, dLoss: Raw): CpuStorage {
  const [N, K] = [logits.shape[0], logits.shape[1]];
  const p = softmax(logits, false).data, L = dataOf(labels), G = dataOf(dLoss);
  const out = alloc(logits.dtype, N * K), D = out.data;
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) {
    D[n * K + k] = G[n] * (p[n * K + k] - (k === L[n] ? 1 : 0));
  }
  return out;
}
