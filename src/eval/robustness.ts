// Robustness of a linear-probed representation (SPEC §7, the paper's Table 3): accuracy under
// image corruptions (severities 1–5, averaged per corruption) and under internal masking (a
// random share of the local representations dropped before pooling, averaged over shares).
// The probe is trained once on clean features; only the test images or features change.
import type { Backend } from '../backend/backend.js';
import type { ResNet } from '../models/resnet.js';
import type { ViewSpec } from '../data/augment_params.js';
import type { ImageSet } from '../training/data.js';
import { Rng } from '../runtime/rng.js';
import { CORRUPTIONS, corruptImages, defaultTable, type CorruptionName, type CorruptionTable } from './corruptions.js';
import { extractFeatures, type FeatureKind } from './features.js';
import type { LinearProbe } from './linear_probe.js';

/** The paper's shares of local representations dropped: 90, 80, 70, 60 and 50%. */
export const MASK_FRACTIONS: readonly number[] = [0.9, 0.8, 0.7, 0.6, 0.5];

export interface MaskingResult { fraction: number; dropped: number; positions: number; accuracy: number }

/**
 * Accuracy with `fraction` of the local positions dropped before pooling. Each batch drops its
 * own random positions (the same for the images of one batch: forwardFeatures drops one set per
 * call), drawn from `seed`, so over a test set every position is dropped about as often.
 */
export async function maskingAccuracy(backbone: ResNet, probe: LinearProbe, kind: FeatureKind, set: ImageSet, view: ViewSpec, backend: Backend,
  opts: { fractions?: readonly number[]; limit?: number; seed?: number; batch?: number } = {}): Promise<MaskingResult[]> {
  const out: MaskingResult[] = [];
  for (const fraction of opts.fractions ?? MASK_FRACTIONS) {
    if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`masking: a share of dropped positions must be in [0, 1), got ${fraction}`);
    let dropped = 0, positions = 0;
    const drop = (k: number, p: number) => {
      const rng = new Rng((opts.seed ?? 0) * 7919 + k * 104729 + Math.round(fraction * 1000));
      const order = Int32Array.from({ length: p }, (_, i) => i);
      rng.shuffle(order);
      // At least one position stays: pooling needs one.
      dropped = Math.min(p - 1, Math.round(fraction * p));
      positions = p;
      return order.subarray(0, dropped);
    };
    const f = await extractFeatures(backbone, set, view, backend, { kinds: [kind], limit: opts.limit, batch: opts.batch, drop });
    out.push({ fraction, dropped, positions, accuracy: await probe.accuracy(f[kind]) });
  }
  return out;
}

export interface CorruptionResult { corruption: CorruptionName; severity: number; accuracy: number }

/** Accuracy on corrupted copies of the first `limit` test images, per corruption and severity. */
export async function corruptionAccuracy(backbone: ResNet, probe: LinearProbe, kind: FeatureKind, set: ImageSet, view: ViewSpec, backend: Backend,
  opts: { corruptions?: readonly CorruptionName[]; severities?: readonly number[]; table?: CorruptionTable; limit?: number; seed?: number;
    onStep?: (done: number, total: number) => void } = {}): Promise<{ table: CorruptionTable; rows: CorruptionResult[] }> {
  const n = Math.min(set.count, opts.limit ?? set.count);
  const [h, w, c] = set.shape;
  const table = opts.table ?? defaultTable(Math.max(h, w));
  const names = opts.corruptions ?? CORRUPTIONS;
  const severities = opts.severities ?? [1, 2, 3, 4, 5];
  const clean = set.images.subarray(0, n * h * w * c);
  const rows: CorruptionResult[] = [];
  let done = 0;
  for (const corruption of names) {
    for (const severity of severities) {
      const images = corruptImages(clean, [n, h, w, c], corruption, severity, { table, seed: opts.seed ?? 0 });
      const f = await extractFeatures(backbone, { ...set, images, count: n, labels: set.labels.subarray(0, n) }, view, backend, { kinds: [kind] });
      rows.push({ corruption, severity, accuracy: await probe.accuracy(f[kind]) });
      opts.onStep?.(++done, names.length * severities.length);
    }
  }
  return { table, rows };
}

/** Mean accuracy per corruption over its severities (the paper's Table 3 columns). */
export function corruptionMeans(rows: readonly CorruptionResult[]): Partial<Record<CorruptionName, number>> {
  const sums = new Map<CorruptionName, { s: number; n: number }>();
  for (const r of rows) {
    const e = sums.get(r.corruption) ?? { s: 0, n: 0 };
    e.s += r.accuracy; e.n++;
    sums.set(r.corruption, e);
  }
  return Object.fromEntries([...sums].map(([k, e]) => [k, e.s / e.n]));
}
