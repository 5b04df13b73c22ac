// Test images for the augmentation tests: smooth colour ramps plus noise and a few flat patches
// (flat regions exercise the hue/saturation edge cases where max = min), deterministic by seed.
import { Rng } from '../../src/runtime/rng.js';

export function testImages(n: number, h: number, w: number, c: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const out = new Uint8Array(n * h * w * c);
  for (let i = 0; i < n; i++) {
    const phase = rng.uniform(0, 6.28), noise = rng.uniform(0, 80);
    const flat = [rng.int(256), rng.int(256), rng.int(256)];
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const inPatch = x < w / 4 && y < h / 4;
      for (let ch = 0; ch < c; ch++) {
        const smooth = 127.5 + 110 * Math.sin(phase + 0.21 * x + 0.13 * y + 2.1 * ch);
        const v = inPatch ? flat[ch] : smooth + noise * (rng.next() - 0.5);
        out[((i * h + y) * w + x) * c + ch] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return out;
}
