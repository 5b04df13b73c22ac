// Cosine similarity with broadcasting: a local map [B, P, D] against a global vector [B, 1, D]
// gives [B, P] in one call, which is what CO-SSL's local losses need.
import { Tensor } from '../tensor.js';
import { broadcastShapes } from '../runtime/shape.js';
import { normAxis } from '../runtime/shape.js';
import { mul } from './elementwise.js';
import { sum } from './reduce.js';
import { l2Normalize } from './norm.js';

/** cos(a, b) along `axis` (default last) after broadcasting a and b; eps as torch's normalize. */
export function cosineSimilarity(a: Tensor, b: Tensor, axis = -1, eps = 1e-12): Tensor {
  const shape = broadcastShapes(a.shape, b.shape, 'cosineSimilarity');
  const ax = normAxis(axis, shape.length, 'cosineSimilarity');
  const offA = shape.length - a.rank, offB = shape.length - b.rank;
  return sum(mul(l2Normalize(a, ax - offA, eps), l2Normalize(b, ax - offB, eps)), ax);
}
