// Reads a file that may be gzip-compressed (detected by its magic bytes, not its name), turning
// I/O and decompression failures into errors that name the file.
import * as fs from 'node:fs';
import { gunzipSync } from 'fflate';
import { DatasetError } from './format.js';
import { crc32 } from './checksum.js';

export function readFileBytes(file: string): Uint8Array {
  try {
    const b = fs.readFileSync(file);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new DatasetError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Returns the file's bytes, gunzipped when they start with the gzip magic. */
export function readMaybeGzip(file: string): Uint8Array {
  const raw = readFileBytes(file);
  if (!isGzip(raw)) {
    if (/\.(gz|tgz)$/i.test(file)) throw new DatasetError(`${file}: name ends in .gz but the file is not gzip data (bad magic number)`);
    return raw;
  }
  return gunzipNamed(raw, file);
}

export function gunzipNamed(raw: Uint8Array, file: string): Uint8Array {
  let out: Uint8Array;
  try {
    out = gunzipSync(raw);
  } catch (e) {
    throw new DatasetError(`${file}: corrupt or truncated gzip data (${(e as Error).message})`);
  }
  // fflate does not check the gzip trailer; a flipped bit can inflate to garbage silently.
  const n = raw.length;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const wantCrc = view.getUint32(n - 8, true), wantSize = view.getUint32(n - 4, true);
  if ((out.length >>> 0) !== wantSize || crc32(out) !== wantCrc) {
    throw new DatasetError(`${file}: corrupt gzip data (CRC-32 or length in the gzip trailer does not match)`);
  }
  return out;
}
