// Max pooling over NHWC maps. argmax holds, per output element, the index h·W + w of the
// winning input position within its (image, channel) plane; padding never wins.
import type { PoolParams, Raw } from '../backend.js';
import { convOutSize, numel, type Shape } from '../../runtime/shape.js';
import { alloc, dataOf, type CpuStorage } from './storage.js';

export function maxPool2d(x: Raw, p: PoolParams): { y: CpuStorage; argmax: CpuStorage } {
  const [N, H, W, C] = x.shape;
  const [kh, kw] = p.kernel, [sh, sw] = p.stride, [ph, pw] = p.pad;
  const Ho = convOutSize(H, kh, sh, ph), Wo = convOutSize(W, kw, sw, pw);
  const X = dataOf(x);
  const y = alloc(x.dtype, N * Ho * Wo * C), am = alloc('i32', N * Ho * Wo * C);
  const Y = y.data, A = am.data;
  for (let n = 0; n < N; n++) for (let ho = 0; ho < Ho; ho++) for (let wo = 0; wo < Wo; wo++) {
    const ob = ((n * Ho + ho) * Wo + wo) * C;
    for (let c = 0; c < C; c++) {
      let best = -Infinity, bi = -1;
      for (let i = 0; i < kh; i++) {
        const hi = ho * sh - ph + i;
        if (hi < 0 || hi >= H) continue;
        for (let j = 0; j < kw; j++) {
          const wi = wo * sw - pw + j;
          if (wi < 0 || wi >= W) continue;
          const v = X[((n * H + hi) * W + wi) * C + c];
          if (v > best || bi < 0) { best = v; bi = hi * W + wi; }
        }
      }
      Y[ob + c] = best; A[ob + c] = bi;
    }
  }
  return { y, argmax: am };
}

export function maxPool2dBackward(dy: Raw, argmax: Raw, xShape: Shape): CpuStorage {
  const [N, H, W, C] = xShape;
  const [, Ho, Wo] = dy.shape;
  const G = dataOf(dy), A = dataOf(argmax);
  const dx = alloc(dy.dtype, numel(xShape));
  const D = dx.data;
  for (let n = 0; n < N; n++) for (let q = 0; q < Ho * Wo; q++) {
    const ob = (n * Ho * Wo + q) * C;
    for (let c = 0; c < C; c++) D[(n * H * W + A[ob + c]) * C + c] += G[ob + c];
  }
  return dx;
}
