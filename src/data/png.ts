// PNG decoder (non-interlaced; all colour types; bit depths 1/2/4/8/16). Chunk CRCs are checked
// so corrupt files fail with a clear message instead of decoding to noise. Output keeps the
// file's channels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA; palettes expand to RGB/RGBA) at 8 bits.
import { unzlibSync } from 'fflate';
import { crc32 } from './checksum.js';

export interface DecodedImage { width: number; height: number; channels: number; data: Uint8Array }

export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ALLOWED_DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

export function isPng(b: Uint8Array): boolean {
  return b.length >= 8 && SIGNATURE.every((v, i) => b[i] === v);
}

export function decodePng(bytes: Uint8Array): DecodedImage {
  if (!isPng(bytes)) throw new ImageDecodeError('not a PNG file (bad signature)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 8;
  let width = 0, height = 0, depth = 0, colorType = -1;
  let palette: Uint8Array | null = null;
  let trns: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  let sawEnd = false;
  while (off < bytes.length) {
    if (off + 12 > bytes.length) throw new ImageDecodeError(`truncated PNG (chunk header at byte ${off})`);
    const len = view.getUint32(off, false);
    const type = String.fromCharCode(bytes[off + 4], bytes[off + 5], bytes[off + 6], bytes[off + 7]);
    if (off + 12 + len > bytes.length) throw new ImageDecodeError(`truncated PNG (chunk ${type} needs ${len} bytes)`);
    const data = bytes.subarray(off + 8, off + 8 + len);
    const storedCrc = view.getUint32(off + 8 + len, false);
    if (crc32(bytes.subarray(off + 4, off + 8 + len)) !== storedCrc) throw new ImageDecodeError(`corrupt PNG (CRC mismatch in chunk ${type})`);
    off += 12 + len;
    if (type === 'IHDR') {
      if (len !== 13) throw new ImageDecodeError('corrupt PNG (IHDR length)');
      const d = new DataView(data.buffer, data.byteOffset, 13);
      width = d.getUint32(0, false); height = d.getUint32(4, false);
      depth = data[8]; colorType = data[9];
      if (!(colorType in CHANNELS) || !ALLOWED_DEPTHS[colorType].includes(depth)) {
        throw new ImageDecodeError(`invalid PNG colour type ${colorType} / bit depth ${depth}`);
      }
      if (data[10] !== 0 || data[11] !== 0) throw new ImageDecodeError('unsupported PNG compression/filter method');
      if (data[12] !== 0) throw new ImageDecodeError('interlaced (Adam7) PNG is not supported; re-save the image without interlacing');
      if (width === 0 || height === 0) throw new ImageDecodeError(`invalid PNG size ${width}×${height}`);
    } else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') trns = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') { sawEnd = true; break; }
  }
  if (colorType < 0) throw new ImageDecodeError('corrupt PNG (no IHDR chunk)');
  if (!sawEnd) throw new ImageDecodeError('truncated PNG (no IEND chunk)');
  if (idat.length === 0) throw new ImageDecodeError('corrupt PNG (no IDAT chunk)');
  if (colorType === 3 && !palette) throw new ImageDecodeError('corrupt PNG (palette image without PLTE)');

  const total = idat.reduce((a, c) => a + c.length, 0);
  const z = new Uint8Array(total);
  let k = 0;
  for (const c of idat) { z.set(c, k); k += c.length; }
  let raw: Uint8Array;
  try { raw = unzlibSync(z); } catch (e) { throw new ImageDecodeError(`corrupt PNG image data (${(e as Error).message})`); }

  const ch = CHANNELS[colorType];
  const bitsPerPixel = ch * depth;
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const stride = Math.ceil((width * bitsPerPixel) / 8);
  if (raw.length < (stride + 1) * height) {
    throw new ImageDecodeError(`truncated PNG image data (${raw.length} bytes, need ${(stride + 1) * height})`);
  }
  const pixels = unfilter(raw, stride, height, bpp);
  return expand(pixels, width, height, stride, depth, colorType, palette, trns);
}

function unfilter(raw: Uint8Array, stride: number, height: number, bpp: number): Uint8Array {
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const ft = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1, dst = y * stride, up = dst - stride;
    switch (ft) {
      case 0: out.set(raw.subarray(src, src + stride), dst); break;
      case 1:
        for (let i = 0; i < stride; i++) out[dst + i] = (raw[src + i] + (i >= bpp ? out[dst + i - bpp] : 0)) & 0xff;
        break;
      case 2:
        for (let i = 0; i < stride; i++) out[dst + i] = (raw[src + i] + (y > 0 ? out[up + i] : 0)) & 0xff;
        break;
      case 3:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? out[dst + i - bpp] : 0, b = y > 0 ? out[up + i] : 0;
          out[dst + i] = (raw[src + i] + ((a + b) >> 1)) & 0xff;
        }
        break;
      case 4:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? out[dst + i - bpp] : 0, b = y > 0 ? out[up + i] : 0;
          const c = i >= bpp && y > 0 ? out[up + i - bpp] : 0;
          const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
          const pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          out[dst + i] = (raw[src + i] + pred) & 0xff;
        }
        break;
      default: throw new ImageDecodeError(`corrupt PNG (filter type ${ft} on row ${y})`);
    }
  }
  return out;
}

function expand(
  px: Uint8Array, width: number, height: number, stride: number, depth: number, colorType: number,
  palette: Uint8Array | null, trns: Uint8Array | null,
): DecodedImage {
  const ch = CHANNELS[colorType];
  const samplesPerRow = width * ch;
  // 1. Samples to 8 bits (palette indices stay indices).
  const samples = new Uint8Array(samplesPerRow * height);
  for (let y = 0; y < height; y++) {
    const row = y * stride, o = y * samplesPerRow;
    if (depth === 8) samples.set(px.subarray(row, row + samplesPerRow), o);
    else if (depth === 16) for (let i = 0; i < samplesPerRow; i++) samples[o + i] = px[row + 2 * i]; // high byte
    else {
      const mask = (1 << depth) - 1, perByte = 8 / depth;
      const scale = colorType === 3 ? 1 : 255 / mask;
      for (let i = 0; i < samplesPerRow; i++) {
        const byte = px[row + Math.floor(i / perByte)];
        const shift = 8 - depth * ((i % perByte) + 1);
        samples[o + i] = Math.round(((byte >> shift) & mask) * scale);
      }
    }
  }
  if (colorType !== 3) return { width, height, channels: ch, data: samples };
  // 2. Palette → RGB, or RGBA when tRNS gives the palette alpha.
  const entries = palette!.length / 3;
  const outCh = trns ? 4 : 3;
  const data = new Uint8Array(width * height * outCh);
  for (let i = 0; i < width * height; i++) {
    const idx = samples[i];
    if (idx >= entries) throw new ImageDecodeError(`corrupt PNG (palette index ${idx} ≥ ${entries} entries)`);
    data[i * outCh] = palette![3 * idx];
    data[i * outCh + 1] = palette![3 * idx + 1];
    data[i * outCh + 2] = palette![3 * idx + 2];
    if (trns) data[i * outCh + 3] = idx < trns.length ? trns[idx] : 255;
  }
  return { width, height, channels: outCh, data };
}
