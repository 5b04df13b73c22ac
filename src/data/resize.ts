// Host-side resizing used at prepare time. Downscaling uses area (box) averaging so that large
// ImageNet photos shrink without aliasing; upscaling uses bilinear interpolation with half-pixel
// centres (as PIL / torchvision with align_corners=False). Both are separable: rows, then columns.

/** Per-output-index taps along one axis: source index of the first tap, tap count and weights. */
interface AxisTaps { first: Int32Array; count: Int32Array; weights: Float32Array; maxTaps: number }

function axisTaps(inSize: number, outSize: number, offset: number, srcLimit: number): AxisTaps {
  const scale = inSize / outSize;
  const first = new Int32Array(outSize), count = new Int32Array(outSize);
  if (scale > 1) {
    // Area: output pixel o covers source interval [o*scale, (o+1)*scale).
    const maxTaps = Math.ceil(scale) + 1;
    const weights = new Float32Array(outSize * maxTaps);
    for (let o = 0; o < outSize; o++) {
      const a = o * scale, b = (o + 1) * scale;
      const i0 = Math.floor(a), i1 = Math.min(Math.ceil(b), inSize);
      first[o] = offset + i0;
      count[o] = i1 - i0;
      for (let i = i0; i < i1; i++) {
        const overlap = Math.min(b, i + 1) - Math.max(a, i);
        weights[o * maxTaps + (i - i0)] = overlap / scale;
      }
    }
    return { first, count, weights, maxTaps };
  }
  // Bilinear (also exact copy when scale == 1).
  const maxTaps = 2;
  const weights = new Float32Array(outSize * 2);
  for (let o = 0; o < outSize; o++) {
    const x = Math.max(0, (o + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(x), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const f = x - i0;
    first[o] = offset + i0;
    if (i1 === i0 || f === 0) { count[o] = 1; weights[o * 2] = 1; }
    else { count[o] = 2; weights[o * 2] = 1 - f; weights[o * 2 + 1] = f; }
  }
  void srcLimit;
  return { first, count, weights, maxTaps };
}

/**
 * Resizes the region (x0, y0, cw, ch) of an HWC uint8 image of width `w` to outW×outH.
 * Returns outH×outW×c bytes.
 */
export function resizeRegion(
  src: Uint8Array, w: number, h: number, c: number,
  x0: number, y0: number, cw: number, ch: number,
  outW: number, outH: number,
): Uint8Array {
  if (x0 < 0 || y0 < 0 || x0 + cw > w || y0 + ch > h || cw <= 0 || ch <= 0) {
    throw new RangeError(`resize: region (${x0}, ${y0}, ${cw}×${ch}) outside ${w}×${h} image`);
  }
  if (src.length !== w * h * c) throw new RangeError(`resize: buffer of ${src.length} bytes is not ${h}×${w}×${c}`);
  const tx = axisTaps(cw, outW, x0, w), ty = axisTaps(ch, outH, y0, h);
  // Horizontal pass over the rows the vertical pass will need: ch rows × outW × c.
  const tmp = new Float32Array(ch * outW * c);
  for (let r = 0; r < ch; r++) {
    const srcRow = (y0 + r) * w * c, tmpRow = r * outW * c;
    for (let o = 0; o < outW; o++) {
      const f = tx.first[o], n = tx.count[o], wb = o * tx.maxTaps;
      for (let k = 0; k < c; k++) {
        let acc = 0;
        for (let t = 0; t < n; t++) acc += tx.weights[wb + t] * src[srcRow + (f + t) * c + k];
        tmp[tmpRow + o * c + k] = acc;
      }
    }
  }
  const out = new Uint8Array(outH * outW * c);
  const rowLen = outW * c;
  for (let o = 0; o < outH; o++) {
    const f = ty.first[o] - y0, n = ty.count[o], wb = o * ty.maxTaps, dst = o * rowLen;
    for (let j = 0; j < rowLen; j++) {
      let acc = 0;
      for (let t = 0; t < n; t++) acc += ty.weights[wb + t] * tmp[(f + t) * rowLen + j];
      const v = Math.round(acc);
      out[dst + j] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return out;
}

/**
 * Centre-crops the largest square and resizes it to size×size: the same framing as "resize the
 * shorter side to `size`, then centre-crop", which keeps the aspect ratio of photos.
 */
export function resizeSquare(src: Uint8Array, w: number, h: number, c: number, size: number): Uint8Array {
  const side = Math.min(w, h);
  const x0 = Math.floor((w - side) / 2), y0 = Math.floor((h - side) / 2);
  if (side === size && w === h) return src;
  return resizeRegion(src, w, h, c, x0, y0, side, side, size, size);
}
