// CO-SSL's local loss as one op: local predictions against the other view's global target and
// the global prediction against the other view's local targets (SPEC §2), fused so that no
// B×P×D intermediate is materialised. Targets are stop-gradient by construction.
import { Tensor } from '../tensor.js';
import { shapeError } from '../runtime/errors.js';
import { needsGrad, record, save } from '../autograd/tape.js';
import { sameBackend, wrap } from './util.js';
import { mean } from './reduce.js';

/**
 * Mean over the batch of −(1/P)·Σ_i [cos(pl_i, sg(zg)) + cos(p, sg(zl_i))].
 * pl, zl: [B, P, D] local predictions / local targets; p, zg: [B, D] global prediction / global
 * target. Multiply by 2 for BYOL's −2·cos convention (L_l in SPEC §2).
 */
export function localCosineLoss(pl: Tensor, zg: Tensor, p: Tensor, zl: Tensor): Tensor {
  const be = sameBackend('localCosineLoss', pl, zg, p, zl);
  const [B, P, D] = pl.shape;
  if (pl.rank !== 3 || zl.rank !== 3 || zg.rank !== 2 || p.rank !== 2 ||
    zl.shape[0] !== B || zl.shape[1] !== P || zl.shape[2] !== D ||
    zg.shape[0] !== B || zg.shape[1] !== D || p.shape[0] !== B || p.shape[1] !== D) {
    throw shapeError('localCosineLoss', 'expected pl, zl [B, P, D] and zg, p [B, D]', { pl: pl.shape, zg: zg.shape, p: p.shape, zl: zl.shape });
  }
  const per = wrap(be, be.localCosine(pl, zg, p, zl), [B], pl.dtype);
  if (needsGrad(pl, p)) {
    const s = [save(pl), save(zg), save(p), save(zl)];
    record(per, 'localCosineLoss', [pl, p], (g) => {
      const r = be.localCosineBackward(s[0], s[1], s[2], s[3], g);
      return [wrap(be, r.dpl, pl.shape, pl.dtype), wrap(be, r.dp, p.shape, p.dtype)];
    }, s);
  }
  return mean(per);
}
