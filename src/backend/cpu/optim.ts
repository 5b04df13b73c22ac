// Whole-model training primitives on flat buffers: EMA and fused SGD / LARS / AdamW.
import type { OptimizerHyper, OptimizerKind, Raw } from '../backend.js';
import { dataOf } from './storage.js';

export function emaUpdate(target: Raw, source: Raw, tau: Raw): void {
  const t = dataOf(target), s = dataOf(source), k = dataOf(tau)[0];
  for (let i = 0; i < t.length; i++) t[i] = k * t[i] + (1 - k) * s[i];
}

/**
 * SGD and LARS follow solo-learn's LARS (the paper's code base): for an adapted tensor with
 * ‖w‖ ≠ 0 and ‖g‖ ≠ 0, local_lr = η·‖w‖ / (‖g‖ + wd·‖w‖ + eps), clipped to min(local_lr/lr, 1)
 * when clipLr, and d = (g + wd·w)·local_lr; otherwise d = g (plain SGD applies wd to adapted
 * tensors only). Then m ← μ·m + d, w ← w − lr·m.
 * AdamW: m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², w ← w − lr·(m̂/(√v̂ + eps) + wd·w) with wd
 * on adapted tensors only. lr and the bias corrections 1 − β^t come from `hyper`
 * (optimizerHyperValues' layout).
 */
export function optimizerStep(kind: OptimizerKind, param: Raw, grad: Raw, state1: Raw, state2: Raw | null,
  segments: Raw, hyper: Raw, h: OptimizerHyper): void {
  const w = dataOf(param), g = dataOf(grad), m = dataOf(state1), v = state2 ? dataOf(state2) : null;
  const seg = dataOf(segments);
  const [lr, bc1, bc2] = dataOf(hyper);
  for (let s = 0; s < seg.length; s += 3) {
    const off = seg[s], n = seg[s + 1], adapt = seg[s + 2] === 1;
    if (kind === 'adamw') {
      const wd = adapt ? h.weightDecay : 0;
      for (let i = off; i < off + n; i++) {
        m[i] = h.beta1 * m[i] + (1 - h.beta1) * g[i];
        v![i] = h.beta2 * v![i] + (1 - h.beta2) * g[i] * g[i];
        w[i] -= lr * ((m[i] / bc1) / (Math.sqrt(v![i] / bc2) + h.eps) + wd * w[i]);
      }
      continue;
    }
    let scale = 1, wd = 0;
    if (adapt) {
      wd = h.weightDecay;
      if (kind === 'lars') {
        let wn = 0, gn = 0;
        for (let i = off; i < off + n; i++) { wn += w[i] * w[i]; gn += g[i] * g[i]; }
        wn = Math.sqrt(wn); gn = Math.sqrt(gn);
        if (wn !== 0 && gn !== 0) {
          scale = (h.eta * wn) / (gn + wn * h.weightDecay + h.eps);
          if (h.clipLr) scale = Math.min(scale / lr, 1);
        } else { wd = 0; }
      }
    }
    for (let i = off; i < off + n; i++) {
      const d = (g[i] + wd * w[i]) * scale;
      m[i] = h.momentum * m[i] + d;
      w[i] -= lr * m[i];
    }
  }
}
