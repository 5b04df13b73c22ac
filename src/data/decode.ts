// Image decoding for ImageFolder data sets: the format is detected from the file's magic bytes
// (ImageNet has PNGs named .JPEG), PNG with our decoder, JPEG (baseline and progressive,
// including CMYK) with jpeg-js. Everything is converted to 8-bit RGB.
import * as fs from 'node:fs';
import jpeg from 'jpeg-js';
import { DecodedImage, ImageDecodeError, decodePng, isPng } from './png.js';
import { resizeSquare } from './resize.js';

export function isJpeg(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
}

export function decodeImage(bytes: Uint8Array): DecodedImage {
  if (isPng(bytes)) return decodePng(bytes);
  if (isJpeg(bytes)) {
    let img: { width: number; height: number; data: Uint8Array };
    try {
      img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: 250, maxMemoryUsageInMB: 2048 });
    } catch (e) {
      throw new ImageDecodeError(`corrupt or unsupported JPEG (${(e as Error).message ?? String(e)})`);
    }
    if (!img.width || !img.height || img.data.length !== img.width * img.height * 3) {
      throw new ImageDecodeError('corrupt JPEG (decoded to an empty or inconsistent image)');
    }
    return { width: img.width, height: img.height, channels: 3, data: img.data };
  }
  if (bytes.length === 0) throw new ImageDecodeError('empty file');
  throw new ImageDecodeError('unsupported image format (neither PNG nor JPEG magic bytes)');
}

/** Converts 1/2/3/4-channel 8-bit images to RGB (alpha is dropped, as PIL's convert('RGB')). */
export function toRgb(img: DecodedImage): Uint8Array {
  if (img.channels === 3) return img.data;
  const n = img.width * img.height, out = new Uint8Array(n * 3), c = img.channels, d = img.data;
  for (let i = 0; i < n; i++) {
    if (c <= 2) { const g = d[i * c]; out[3 * i] = g; out[3 * i + 1] = g; out[3 * i + 2] = g; }
    else { out[3 * i] = d[i * c]; out[3 * i + 1] = d[i * c + 1]; out[3 * i + 2] = d[i * c + 2]; }
  }
  return out;
}

/** Reads, decodes and centre-crop-resizes one image file to size×size×3. Errors name the file. */
export function loadImageResized(file: string, size: number): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new ImageDecodeError(`${file}: cannot read (${(e as Error).message})`);
  }
  try {
    const img = decodeImage(bytes);
    return resizeSquare(toRgb(img), img.width, img.height, 3, size);
  } catch (e) {
    throw new ImageDecodeError(`${file}: ${(e as Error).message}`);
  }
}
