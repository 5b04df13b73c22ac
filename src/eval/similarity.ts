// Local/global representation similarity: the analysis of the CO-SSL paper's Fig. 3B.
//
// For random pairs of distinct images (i, j) it compares how similar their global
// representations are (cos(G_i, G_j)) with how similar their local representations are on
// average (the mean cosine over all position pairs of i and j), and reports the Pearson
// correlation of the two over the pairs. It also reports how similar the local
// representations of one image are among themselves (distinct positions of the same image).
//
// Features come in as host arrays (the caller extracts them from the backbone in batches):
// G [N, C] and the local maps L [N, P, C] with P = h·w positions, row-major. Accumulation is
// in float64 throughout.
import { Rng } from '../runtime/rng.js';

export interface SimilarityInput {
  /** Global representations, [count, dim] row-major. */
  global: ArrayLike<number>;
  /** Local representations, [count, positions, dim] row-major (the flattened h×w maps). */
  local: ArrayLike<number>;
  count: number;
  /** Local positions per image, h·w. */
  positions: number;
  dim: number;
}

export interface SimilarityOptions {
  /** Number of random image pairs (i ≠ j, drawn with replacement). */
  pairs: number;
  /** Seed of the pair sampler (default 0). */
  seed?: number;
  /** Also return the per-pair similarities (for scatter plots). */
  keepPairs?: boolean;
}

export interface SimilarityResult {
  pairs: number;
  /** Pearson r between globalSim and localSim over the pairs (NaN if either is constant). */
  pearson: number;
  meanGlobalSim: number;
  meanLocalSim: number;
  /** Mean over images of the mean cosine between distinct positions p ≠ q of one image. */
  intraLocalSim: number;
  /** Per-pair cos(G_i, G_j), only with keepPairs. */
  globalSims?: Float32Array;
  /** Per-pair mean local cosine, only with keepPairs. */
  localSims?: Float32Array;
}

/**
 * Local/global similarity over `opts.pairs` random image pairs (the paper's Fig. 3B).
 *
 * - globalSim(i, j) = cos(G_i, G_j);
 * - localSim(i, j)  = (1/P²) Σ_p Σ_q cos(L_i,p, L_j,q), computed as m_i · m_j with
 *   m_i = (1/P) Σ_p L̂_i,p the mean of the L2-normalised local vectors: the double sum of
 *   dot products of unit vectors factorises, so this is exactly the P×P mean, in O(P·C) per
 *   image instead of O(P²·C) per pair;
 * - intraLocalSim: per image, the mean cosine over the P(P−1) ordered pairs of distinct
 *   positions, (P²·|m_i|² − Σ_p |L̂_i,p|²) / (P(P−1)) by the same identity (the subtracted
 *   diagonal is P unless some local vectors are zero), averaged over images.
 *
 * A zero vector has cosine 0 with everything (its normalised vector is taken as 0), never NaN.
 * Pairs are drawn uniformly among ordered pairs of distinct images, with the project's seeded
 * Rng, so a seed gives the same pairs on any machine.
 */
export function localGlobalSimilarity(f: SimilarityInput, opts: SimilarityOptions): SimilarityResult {
  const acc = new SimilarityAccumulator();
  acc.add(f);
  return acc.result(opts);
}

/**
 * The same analysis over images given in batches: each batch is reduced at once to what the
 * pairs need per image (its unit global vector, its mean unit local vector, its intra-image
 * similarity), so the local maps of a whole test set never have to be held at once.
 */
export class SimilarityAccumulator {
  private gHat: Float64Array[] = [];
  private mLoc: Float64Array[] = [];
  private intraSum = 0;
  private count = 0;
  private dim = 0;

  add(f: SimilarityInput): void {
    const { count: N, positions: P, dim: C } = f;
    for (const [k, v] of [['count', N], ['positions', P], ['dim', C]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`localGlobalSimilarity: ${k} must be a positive integer, got ${v}`);
    }
    if (P < 2) throw new RangeError(`localGlobalSimilarity: need at least 2 local positions per image (intra-image similarity), got ${P}`);
    if (this.count && C !== this.dim) throw new RangeError(`localGlobalSimilarity: a batch of ${C}-dim features after ${this.dim}-dim ones`);
    if (f.global.length !== N * C) {
      throw new RangeError(`localGlobalSimilarity: global has ${f.global.length} values, expected count·dim = ${N}·${C} = ${N * C}`);
    }
    if (f.local.length !== N * P * C) {
      throw new RangeError(`localGlobalSimilarity: local has ${f.local.length} values, expected count·positions·dim = ${N}·${P}·${C} = ${N * P * C}`);
    }
    for (let i = 0; i < N; i++) {
      const g = new Float64Array(C), m = new Float64Array(C);
      normalizeInto(f.global, i * C, C, g, 0, 1);
      let nonzero = 0; // Σ_p |L̂_p|²: 1 per nonzero local vector
      for (let p = 0; p < P; p++) nonzero += normalizeInto(f.local, (i * P + p) * C, C, m, 0, 1 / P);
      this.intraSum += (P * P * dot(m, 0, m, 0, C) - nonzero) / (P * (P - 1));
      this.gHat.push(g);
      this.mLoc.push(m);
    }
    this.count += N;
    this.dim = C;
  }

  result(opts: SimilarityOptions): SimilarityResult {
    const N = this.count, C = this.dim;
    if (N < 2) throw new RangeError(`localGlobalSimilarity: need at least 2 images to form pairs, got ${N}`);
    const pairs = opts.pairs;
    if (!Number.isInteger(pairs) || pairs < 1) throw new RangeError(`localGlobalSimilarity: pairs must be a positive integer, got ${pairs}`);
    const rng = new Rng(opts.seed ?? 0);
    const gs = new Float64Array(pairs), ls = new Float64Array(pairs);
    for (let k = 0; k < pairs; k++) {
      const i = rng.int(N);
      let j = rng.int(N - 1);
      if (j >= i) j++; // uniform over the N − 1 other images
      gs[k] = dot(this.gHat[i], 0, this.gHat[j], 0, C);
      ls[k] = dot(this.mLoc[i], 0, this.mLoc[j], 0, C);
    }
    const res: SimilarityResult = {
      pairs,
      pearson: pearson(gs, ls),
      meanGlobalSim: meanOf(gs),
      meanLocalSim: meanOf(ls),
      intraLocalSim: this.intraSum / N,
    };
    if (opts.keepPairs) { res.globalSims = Float32Array.from(gs); res.localSims = Float32Array.from(ls); }
    return res;
  }
}

/**
 * Pearson correlation coefficient of two equally long series (float64, two-pass). NaN when
 * either series is constant (the coefficient is undefined there).
 */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (b.length !== n) throw new RangeError(`pearson: series lengths differ (${n} vs ${b.length})`);
  if (n < 2) throw new RangeError(`pearson: need at least 2 values, got ${n}`);
  // Constant series are found exactly (the mean of n equal values can differ from them in the
  // last bit, which would otherwise give a meaningless r from rounding noise).
  if (isConstant(a) || isConstant(b)) return NaN;
  const ma = meanOf(a), mb = meanOf(b);
  let sab = 0, saa = 0, sbb = 0;
  for (let k = 0; k < n; k++) {
    const da = a[k] - ma, db = b[k] - mb;
    sab += da * db; saa += da * da; sbb += db * db;
  }
  // Clamp: rounding can push |r| a hair above 1 for exactly (anti-)linear series.
  return Math.max(-1, Math.min(1, sab / Math.sqrt(saa * sbb)));
}

/**
 * out[o..o+C) += scale · x̂ for x = src[s..s+C) (x̂ = x/|x|, or 0 for a zero vector).
 * Returns |x̂|², i.e. 1, or 0 for a zero vector.
 */
function normalizeInto(src: ArrayLike<number>, s: number, C: number, out: Float64Array, o: number, scale: number): number {
  let n2 = 0;
  for (let c = 0; c < C; c++) n2 += src[s + c] * src[s + c];
  if (n2 === 0) return 0;
  const k = scale / Math.sqrt(n2);
  for (let c = 0; c < C; c++) out[o + c] += src[s + c] * k;
  return 1;
}

function dot(a: Float64Array, i: number, b: Float64Array, j: number, C: number): number {
  let s = 0;
  for (let c = 0; c < C; c++) s += a[i + c] * b[j + c];
  return s;
}

function isConstant(a: ArrayLike<number>): boolean {
  for (let k = 1; k < a.length; k++) if (a[k] !== a[0]) return false;
  return true;
}

function meanOf(a: ArrayLike<number>): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k];
  return s / a.length;
}
