// What the input-gradient analyses (PGD, effective receptive fields) share: gradients w.r.t.
// the pixels only, so the backbone's weight gradients, half of a backward, are not computed.
import type { Module } from '../nn/module.js';

/**
 * Take the module's trainable parameters out of differentiation; the returned function puts
 * them back. Convolutions and linear layers then skip their weight gradients. (Not for use
 * while a training step of the same module is being recorded.)
 */
export function freezeParameters(m: Module): () => void {
  const frozen = m.parameters().filter((p) => p.requiresGrad);
  for (const p of frozen) p.requiresGrad = false;
  return () => { for (const p of frozen) p.requiresGrad = true; };
}
