// Effective receptive field (ERF) of the local representations: the analysis of the CO-SSL
// paper's Appendix A.5, after Luo et al. 2016 ("Understanding the effective receptive field in
// deep convolutional neural networks").
//
// For a local representation at position (r, c) of the backbone's local map, the gradient of
// that representation with respect to the input pixels shows which pixels it depends on and how
// strongly. All C units are "maximised" at once: the gradient is that of the sum over the
// position's channels. Per image the saliency of a pixel is |∂/∂x| summed over its 3 colour
// channels (so a pixel counts once, whatever channel carries the dependence), normalised by the
// image's maximum saliency. The ERF sizes are then the square roots of the number of pixels
// above 0.05 and above 0.32 (the paper's "1−95%" and "1−68%" thresholds), and sqrt of the
// number of pixels with any nonzero gradient: the theoretical receptive field (for a square RF
// fully inside the image, its side).
import { Tensor, tidy } from '../tensor.js';
import { detach, grad, isGradEnabled, slice, sum } from '../ops/index.js';
import { releaseGraph } from '../autograd/tape.js';
import { freezeParameters } from './input_grad.js';
import type { ResNet } from '../models/resnet.js';

export interface ErfOptions {
  /**
   * Local-map coordinates [row, col] to analyse. Default: the paper's normalised coordinates
   * (0, 0), (0, .5), (.5, 0), (.5, .5) mapped to [⌊u·h⌋, ⌊v·w⌋] (duplicates dropped, which only
   * happens on 1-pixel-wide maps).
   */
  positions?: [number, number][];
  /** Also return the mean normalised saliency map [H, W] (for plotting). */
  keepMap?: boolean;
}

export interface ErfPositionResult {
  position: [number, number];
  sqrtAbove5: number;
  sqrtAbove32: number;
  sqrtNonzero: number;
}

export interface ErfResult {
  positions: [number, number][];
  images: number;
  /** Mean over images and positions of sqrt(#pixels with normalised saliency > 0.05). */
  sqrtAbove5: number;
  /** Mean over images and positions of sqrt(#pixels with normalised saliency > 0.32). */
  sqrtAbove32: number;
  /** Mean over images and positions of sqrt(#pixels with a nonzero gradient). */
  sqrtNonzero: number;
  /** The same three figures per position (means over images). */
  perPosition: ErfPositionResult[];
  /** Mean normalised saliency map [H, W] over images and positions, only with keepMap. */
  map?: Float32Array;
}

/** Thresholds on the max-normalised saliency: the paper's "1−95%" and "1−68%". */
export const ERF_THRESHOLDS = { above5: 0.05, above32: 0.32 } as const;

/**
 * Effective receptive field of `backbone`'s local representations on `images` [B, H, W, 3]
 * (normalised, float, NHWC). The backbone must be in eval mode: in training mode batch norm
 * couples all pixels and images through the batch statistics (and would update its running
 * statistics). Must not run inside noGrad (it needs the tape).
 *
 * The caller's tensor is left as it is: the gradient is taken w.r.t. a fresh leaf sharing its
 * data. The backbone's parameters are excluded from differentiation for the duration of the
 * call (restored afterwards), so backward computes input gradients only.
 */
export async function effectiveReceptiveField(backbone: ResNet, images: Tensor, opts: ErfOptions = {}): Promise<ErfResult> {
  if (images.rank !== 4 || images.shape[3] !== 3) {
    throw new RangeError(`effectiveReceptiveField: expected NHWC images [B, H, W, 3], got [${images.shape}]`);
  }
  if (images.dtype !== 'f32' && images.dtype !== 'f64') {
    throw new TypeError(`effectiveReceptiveField: images must be float (f32 or f64), got ${images.dtype}`);
  }
  if (backbone.training) {
    throw new Error('effectiveReceptiveField: the backbone is in training mode; call backbone.eval() first ' +
      '(batch statistics couple all pixels and images)');
  }
  if (!isGradEnabled()) throw new Error('effectiveReceptiveField: called inside noGrad(); it needs gradient recording');
  const [B, H, W] = images.shape;

  const x = detach(images); // new leaf on the same data: the caller's tensor is not touched
  x.requiresGrad = true;
  const thaw = freezeParameters(backbone);
  const graph: Tensor[] = []; // every tensor whose recorded op must be freed at the end
  try {
    let positions: [number, number][] = [];
    const roots = tidy(() => {
      const f = backbone.forwardFeatures(x);
      graph.push(f.layer3, f.localMap, f.pooled, f.global, ...(f.mlp ? [f.mlp] : []));
      const [, h, w, C] = f.localMap.shape;
      positions = resolvePositions(opts.positions, h, w);
      // Σ over the batch of each image's own position's channel sum: images do not interact in
      // eval mode, so image b's part of the one input gradient is exactly the gradient of its
      // own term. One backward per position serves the whole batch.
      return positions.map(([r, c]) => sum(slice(f.localMap, [0, r, c, 0], [B, 1, 1, C])));
    });
    graph.push(...roots);

    const HW = H * W;
    const map = opts.keepMap ? new Float64Array(HW) : null;
    const perPosition: ErfPositionResult[] = [];
    const sal = new Float64Array(HW);
    for (let k = 0; k < roots.length; k++) {
      // The tape is kept for the next position's backward and freed at the end (finally).
      const [g] = grad(roots[k], [x], { retainGraph: true });
      const gd = g ? await g.data() : null;
      g?.dispose();
      let s5 = 0, s32 = 0, snz = 0;
      for (let b = 0; b < B; b++) {
        let peak = 0;
        for (let i = 0; i < HW; i++) {
          const o = (b * HW + i) * 3;
          sal[i] = gd ? Math.abs(gd[o]) + Math.abs(gd[o + 1]) + Math.abs(gd[o + 2]) : 0;
          if (sal[i] > peak) peak = sal[i];
        }
        // An image whose gradient is zero everywhere (all paths through dead ReLUs) counts as an
        // empty ERF rather than dividing by zero.
        let n5 = 0, n32 = 0, nz = 0;
        for (let i = 0; i < HW; i++) {
          if (sal[i] === 0) continue;
          const v = sal[i] / peak;
          nz++;
          if (v > ERF_THRESHOLDS.above5) n5++;
          if (v > ERF_THRESHOLDS.above32) n32++;
          if (map) map[i] += v;
        }
        s5 += Math.sqrt(n5); s32 += Math.sqrt(n32); snz += Math.sqrt(nz);
      }
      perPosition.push({ position: positions[k], sqrtAbove5: s5 / B, sqrtAbove32: s32 / B, sqrtNonzero: snz / B });
    }

    const avg = (key: 'sqrtAbove5' | 'sqrtAbove32' | 'sqrtNonzero') => perPosition.reduce((a, p) => a + p[key], 0) / perPosition.length;
    const res: ErfResult = {
      positions, images: B,
      sqrtAbove5: avg('sqrtAbove5'), sqrtAbove32: avg('sqrtAbove32'), sqrtNonzero: avg('sqrtNonzero'),
      perPosition,
    };
    if (map) {
      const n = B * positions.length;
      res.map = Float32Array.from(map, (v) => v / n);
    }
    return res;
  } finally {
    releaseGraph(graph);
    for (const t of graph) t.dispose();
    x.dispose();
    thaw();
  }
}

/** Validated local-map positions: the given ones, or the paper's four default points. */
function resolvePositions(given: [number, number][] | undefined, h: number, w: number): [number, number][] {
  if (given) {
    if (!given.length) throw new RangeError('effectiveReceptiveField: positions is empty');
    for (const [r, c] of given) {
      if (!Number.isInteger(r) || !Number.isInteger(c) || r < 0 || r >= h || c < 0 || c >= w) {
        throw new RangeError(`effectiveReceptiveField: position (${r}, ${c}) is outside the ${h}×${w} local map ` +
          `(rows 0..${h - 1}, cols 0..${w - 1})`);
      }
    }
    return given.map(([r, c]) => [r, c]);
  }
  const out: [number, number][] = [];
  for (const [u, v] of [[0, 0], [0, 0.5], [0.5, 0], [0.5, 0.5]]) {
    const p: [number, number] = [Math.floor(u * h), Math.floor(v * w)];
    if (!out.some(([r, c]) => r === p[0] && c === p[1])) out.push(p);
  }
  return out;
}
