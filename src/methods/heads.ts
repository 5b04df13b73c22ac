// Projection / prediction heads. Local heads are the same MLPs applied to every spatial position:
// with NHWC maps a 1×1 convolution over [B, h, w, C] is a Linear over [B·h·w, C], and a
// BatchNorm2d over all positions is a BatchNorm1d over those rows.
import { Module, type ModuleOptions } from '../nn/module.js';
import { BatchNorm1d, GELU, Linear, ReLU, Sequential, type LayerOptions } from '../nn/layers.js';
import type { Tensor } from '../tensor.js';
import { matmul, permute, reshape, tensor } from '../ops/index.js';

export interface MlpSpec {
  inDim: number;
  hidden: number;
  outDim: number;
  /** Number of hidden layers (Linear→BN→act blocks) before the output Linear. */
  hiddenLayers?: number;
  activation?: 'relu' | 'gelu';
  /** BN on hidden layers (DINO's head has none). */
  hiddenBn?: boolean;
  /** A BN after the output layer: 'affine', 'plain' (no affine, MoCoV3's projector), or none. */
  outBn?: 'affine' | 'plain' | null;
}

/** Linear → BN1d → act (× hiddenLayers) → Linear [→ BN], as a torch Sequential (names 0, 1, …). */
export function mlp(spec: MlpSpec, o: LayerOptions = {}): Sequential {
  const layers: Module[] = [];
  let d = spec.inDim;
  for (let i = 0; i < (spec.hiddenLayers ?? 1); i++) {
    layers.push(new Linear(d, spec.hidden, o));
    if (spec.hiddenBn ?? true) layers.push(new BatchNorm1d(spec.hidden, o));
    layers.push(spec.activation === 'gelu' ? new GELU() : new ReLU());
    d = spec.hidden;
  }
  layers.push(new Linear(d, spec.outDim, o));
  if (spec.outBn) layers.push(new BatchNorm1d(spec.outDim, { ...o, affine: spec.outBn === 'affine' }));
  return new Sequential(...layers);
}

/** Apply a per-position head to a local map [B, h, w, C] (or [B, P, C]) → [B, P, D]. */
export function applyLocal(head: Module, local: Tensor): Tensor {
  const B = local.shape[0], C = local.shape[local.rank - 1];
  const P = local.size / (B * C);
  const y = head.forward(reshape(local, [B * P, C]));
  return reshape(y, [B, P, y.shape[1]]);
}

/**
 * Adaptive average pooling of a local map [B, h, w, C] to n×n positions (torch's bins:
 * floor(i·h/n) … ceil((i+1)·h/n)), as a matmul with a fixed pooling matrix → [B, n², C].
 */
export function poolLocalGrid(local: Tensor, n: number, o: ModuleOptions = {}): Tensor {
  const [B, h, w, C] = local.shape;
  if (n === h && n === w) return reshape(local, [B, h * w, C]);
  const M = new Float32Array(n * n * h * w);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    const h0 = Math.floor((i * h) / n), h1 = Math.ceil(((i + 1) * h) / n);
    const w0 = Math.floor((j * w) / n), w1 = Math.ceil(((j + 1) * w) / n);
    const a = 1 / ((h1 - h0) * (w1 - w0));
    for (let y = h0; y < h1; y++) for (let x = w0; x < w1; x++) M[(i * n + j) * h * w + y * w + x] = a;
  }
  const pool = tensor(M, [n * n, h * w], { backend: o.backend ?? local.backend, dtype: local.dtype });
  // [B, hw, C] → [hw, B·C]; pool·that → [n², B·C] → [B, n², C]
  const x = reshape(permute(reshape(local, [B, h * w, C]), [1, 0, 2]), [h * w, B * C]);
  return permute(reshape(matmul(pool, x), [n * n, B, C]), [1, 0, 2]);
}
