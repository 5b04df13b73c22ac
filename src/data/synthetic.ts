// The built-in data set: procedurally generated 32×32 RGB scenes in 10 classes, where a class is
// defined by WHICH two object parts co-occur in the image ("seeing the whole in the parts").
//
// - A part is a patch (a disc or a square, rotated) filled with one of 5 textures: solid,
//   stripes, checker, dots, concentric rings — each in two random colours, at a random period.
// - The 10 classes are all 10 pairs of distinct textures, so every part belongs to 4 classes: no
//   single part determines the class, only the conjunction does. (A linear read-out of "which
//   parts are present" separates the classes: the class pair scores 2, any other pair ≤ 1.)
// - Each image shows its class's two parts, and with probability 1/2 a third part that repeats
//   one of the two (another size, angle, outline and colours): counts and layout carry no signal.
// - Positions, sizes, angles, outlines and colours are random (parts keep a minimum contrast to
//   the background); backgrounds are random gradients with faint stripes and pixel noise.
//   Colours are muted (low saturation): vivid random colours give each image a colour signature
//   that survives colour jitter, a shortcut self-supervised learning takes before texture.
// Because colour and position are random, the class is not a linear function of the pixels
// (measured by test/data/synthetic.test.ts and data-tools/probe-synthetic.ts), while it is
// plainly visible to a person or a translation-invariant part detector (a CNN; measured by
// data-tools/supervised-probe.ts). Textures rather than outlines carry the parts' identity:
// local statistics a small network picks up within minutes of training, which is what the
// software-sized default run has (an earlier version with 8 outline shapes was not learnable
// at that budget, even with labels).
//
// Every image is a pure function of (seed, split, index), so the set can be generated on the fly
// in any order (pretraining) or written to disk with `coengine data prepare --format synthetic`.
import { Rng } from '../runtime/rng.js';

export const SYNTHETIC_SIZE = 32;
export const SYNTHETIC_SHAPE: [number, number, number] = [SYNTHETIC_SIZE, SYNTHETIC_SIZE, 3];
export const SYNTHETIC_PARTS = ['solid', 'stripes', 'checker', 'dots', 'rings'] as const;

/** Class k is the co-occurrence of parts SYNTHETIC_PAIRS[k]: every pair of distinct parts. */
export const SYNTHETIC_PAIRS: readonly (readonly [number, number])[] = SYNTHETIC_PARTS.flatMap((_, a) =>
  SYNTHETIC_PARTS.map((__, b) => [a, b] as const).filter(([x, y]) => x < y));
export const SYNTHETIC_CLASSES = SYNTHETIC_PAIRS.map(([a, b]) => `${SYNTHETIC_PARTS[a]}+${SYNTHETIC_PARTS[b]}`);
export const SYNTHETIC_DEFAULT_COUNTS = { train: 50000, test: 10000 };

export type SyntheticSplit = 'train' | 'test';

export interface PlacedPart {
  part: number; x: number; y: number; r: number; angle: number;
  /** Outline: a disc or a square (rotated by angle); carries no class information. */
  outline: 'disc' | 'square';
  /** Texture period in pixels, and its two colours. */
  period: number;
  color: [number, number, number];
  color2: [number, number, number];
}
export interface SceneDescription { label: number; parts: PlacedPart[] }

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

function imageRng(seed: number, split: SyntheticSplit, index: number): Rng {
  const s = mix32(mix32((seed >>> 0) ^ (split === 'train' ? 0x51ed2701 : 0xa3c59ac3)) + index);
  return new Rng(s);
}

/** Label of image `index`: classes cycle so every prefix of a split is balanced. */
export function syntheticLabel(index: number): number { return index % SYNTHETIC_PAIRS.length; }

/** The parts of one scene: the class pair, maybe plus a repeat of one of them. */
export function describeSynthetic(seed: number, split: SyntheticSplit, index: number): SceneDescription {
  return sampleScene(imageRng(seed, split, index), syntheticLabel(index)).scene;
}

interface Background { c0: number[]; c1: number[]; dir: [number, number]; stripe: { fx: number; fy: number; phase: number; amp: number }; noise: number }

function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  const i = Math.floor(h * 6), f = h * 6 - i, p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s);
  switch (i % 6) {
    case 0: return [v, t, p];
    case 1: return [q, v, p];
    case 2: return [p, v, t];
    case 3: return [p, q, v];
    case 4: return [t, p, v];
    default: return [v, p, q];
  }
}

const luma = (c: readonly number[]) => 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];

/** Part radius range (pixels). */
const RADIUS = [6, 9] as const;

function sampleScene(rng: Rng, label: number): { scene: SceneDescription; bg: Background } {
  // Background: gradient between two colours of similar brightness, plus faint stripes and noise.
  const bgV = rng.uniform(0.25, 0.75);
  const c0 = hsvToRgb(rng.next(), rng.uniform(0, 0.25), bgV);
  const c1 = hsvToRgb(rng.next(), rng.uniform(0, 0.25), Math.min(1, Math.max(0, bgV + rng.uniform(-0.15, 0.15))));
  const ang = rng.uniform(0, 2 * Math.PI);
  const freq = rng.uniform(0.15, 0.6), sang = rng.uniform(0, Math.PI);
  const bg: Background = {
    c0, c1, dir: [Math.cos(ang), Math.sin(ang)],
    stripe: { fx: freq * Math.cos(sang), fy: freq * Math.sin(sang), phase: rng.uniform(0, 2 * Math.PI), amp: rng.uniform(0, 0.05) },
    noise: rng.uniform(0.01, 0.06),
  };
  const bgLuma = (luma(c0) + luma(c1)) / 2;

  const [a, b] = SYNTHETIC_PAIRS[label];
  const kinds = [a, b];
  if (rng.next() < 0.5) kinds.push(rng.next() < 0.5 ? a : b);
  rng.shuffle(kinds);

  const parts: PlacedPart[] = [];
  for (const part of kinds) {
    let x = 0, y = 0, r: number = RADIUS[0];
    for (let attempt = 0; attempt < 50; attempt++) {
      r = rng.uniform(RADIUS[0], RADIUS[1]);
      x = rng.uniform(r - 1, SYNTHETIC_SIZE - r + 1); y = rng.uniform(r - 1, SYNTHETIC_SIZE - r + 1);
      // Keep parts mostly separate so each stays recognisable (relaxed if the scene is crowded;
      // after 50 tries the last candidate stays, overlapping).
      const gap = attempt < 35 ? 0.95 : 0.7;
      if (parts.every((q) => Math.hypot(q.x - x, q.y - y) > gap * (q.r + r))) break;
    }
    // Colours: any hues; the first lighter or darker than the background by a visible margin,
    // the second a visible step from the first (so the texture shows).
    const pick = (ref: number, margin: number): [number, number, number] => {
      let c: [number, number, number] = [0, 0, 0];
      for (let attempt = 0; attempt < 30; attempt++) {
        c = hsvToRgb(rng.next(), rng.uniform(0, 0.35), rng.uniform(0.05, 1));
        if (Math.abs(luma(c) - ref) > margin) break;
      }
      return c;
    };
    const color = pick(bgLuma, 0.22);
    const color2 = pick(luma(color), 0.3);
    parts.push({ part, x, y, r, angle: rng.uniform(0, 2 * Math.PI), outline: rng.next() < 0.5 ? 'disc' : 'square', period: rng.uniform(3.5, 5), color, color2 });
  }
  return { scene: { label, parts }, bg };
}

/** Signed distance (pixels, negative inside) of a part's outline at local coords (u, v). */
function outlineSdf(p: PlacedPart, u: number, v: number): number {
  if (p.outline === 'disc') return Math.hypot(u, v) - 0.95 * p.r;
  const h = 0.78 * p.r, dx = Math.abs(u) - h, dy = Math.abs(v) - h;
  return Math.hypot(Math.max(dx, 0), Math.max(dy, 0)) + Math.min(Math.max(dx, dy), 0);
}

/** Texture of part kind at local coords (u, v): 0 → first colour, 1 → second (soft edges). */
function texture(kind: number, u: number, v: number, period: number): number {
  const k = 2 * Math.PI / period;
  const soft = (t: number) => Math.min(1, Math.max(0, 0.5 + 1.5 * t)); // anti-aliased step of a [-1, 1] wave
  switch (SYNTHETIC_PARTS[kind]) {
    case 'solid': return 0;
    case 'stripes': return soft(Math.sin(k * u));
    case 'checker': return soft(Math.sin(k * u) * Math.sin(k * v) * 2);
    case 'dots': { // a lattice of dots of the second colour
      const fu = u / period - Math.round(u / period), fv = v / period - Math.round(v / period);
      return Math.min(1, Math.max(0, (0.3 - Math.hypot(fu, fv)) * period + 0.5));
    }
    default: return soft(Math.sin(k * Math.hypot(u, v))); // concentric rings
  }
}

/** Renders one scene to 32×32×3 floats in [0, 1]. */
function renderScene(rng: Rng, scene: SceneDescription, bg: Background, img: Float32Array): void {
  const S = SYNTHETIC_SIZE;
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const t = 0.5 + ((x - S / 2) * bg.dir[0] + (y - S / 2) * bg.dir[1]) / S;
      const st = bg.stripe.amp * Math.sin(x * bg.stripe.fx + y * bg.stripe.fy + bg.stripe.phase);
      const o = (y * S + x) * 3;
      for (let c = 0; c < 3; c++) img[o + c] = bg.c0[c] * (1 - t) + bg.c1[c] * t + st;
    }
  }
  for (const p of scene.parts) {
    const cos = Math.cos(p.angle), sin = Math.sin(p.angle);
    const x0 = Math.max(0, Math.floor(p.x - p.r * 1.2 - 1)), x1 = Math.min(S - 1, Math.ceil(p.x + p.r * 1.2 + 1));
    const y0 = Math.max(0, Math.floor(p.y - p.r * 1.2 - 1)), y1 = Math.min(S - 1, Math.ceil(p.y + p.r * 1.2 + 1));
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const dx = x + 0.5 - p.x, dy = y + 0.5 - p.y;
        const u = cos * dx + sin * dy, v = -sin * dx + cos * dy;
        const alpha = Math.min(1, Math.max(0, 0.5 - outlineSdf(p, u, v)));
        if (alpha === 0) continue;
        const t = texture(p.part, u, v, p.period);
        const o = (y * S + x) * 3;
        for (let c = 0; c < 3; c++) img[o + c] = img[o + c] * (1 - alpha) + (p.color[c] * (1 - t) + p.color2[c] * t) * alpha;
      }
    }
  }
  for (let i = 0; i < img.length; i++) img[i] += bg.noise * rng.normal();
}

/** Renders image `index` of `split` into out[offset … offset + 3072) and returns its label. */
export function renderSynthetic(seed: number, split: SyntheticSplit, index: number, out: Uint8Array, offset = 0): number {
  const rng = imageRng(seed, split, index);
  const { scene, bg } = sampleScene(rng, syntheticLabel(index));
  const img = new Float32Array(SYNTHETIC_SIZE * SYNTHETIC_SIZE * 3);
  renderScene(rng, scene, bg, img);
  for (let i = 0; i < img.length; i++) {
    const v = Math.round(img[i] * 255);
    out[offset + i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return scene.label;
}

export interface SyntheticOptions { seed?: number; split: SyntheticSplit; count: number; start?: number }

/** Images [start, start + count) of a split, in memory: count×32×32×3 bytes (NHWC) and labels. */
export function generateSynthetic(opts: SyntheticOptions): { images: Uint8Array; labels: Int32Array; shape: [number, number, number] } {
  const seed = opts.seed ?? 0, start = opts.start ?? 0;
  const per = SYNTHETIC_SIZE * SYNTHETIC_SIZE * 3;
  const images = new Uint8Array(opts.count * per), labels = new Int32Array(opts.count);
  for (let i = 0; i < opts.count; i++) labels[i] = renderSynthetic(seed, opts.split, start + i, images, i * per);
  return { images, labels, shape: [...SYNTHETIC_SHAPE] };
}
