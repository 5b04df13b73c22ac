// CRC-32 (IEEE 802.3, the zlib/PNG/gzip polynomial), incremental so large files can be hashed in
// chunks. fflate does not export its CRC, and Node's zlib.crc32 only exists from 20.15/22.2, so we
// use the native one when present and a slice-by-8 table implementation otherwise. Both give the
// same values (tested).
import * as zlib from 'node:zlib';

const TABLES: Uint32Array[] = makeTables();

function makeTables(): Uint32Array[] {
  const t0 = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t0[n] = c >>> 0;
  }
  const tables = [t0];
  for (let t = 1; t < 8; t++) {
    const prev = tables[t - 1], cur = new Uint32Array(256);
    for (let n = 0; n < 256; n++) cur[n] = (t0[prev[n] & 0xff] ^ (prev[n] >>> 8)) >>> 0;
    tables.push(cur);
  }
  return tables;
}

/** Pure-JS CRC-32 continuing from `crc` (0 for a fresh hash). */
export function crc32Js(data: Uint8Array, crc = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES;
  let c = ~crc >>> 0;
  let i = 0;
  const n = data.length;
  const end8 = n - (n % 8);
  for (; i < end8; i += 8) {
    const a = (c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24))) >>> 0;
    c = t7[a & 0xff] ^ t6[(a >>> 8) & 0xff] ^ t5[(a >>> 16) & 0xff] ^ t4[a >>> 24]
      ^ t3[data[i + 4]] ^ t2[data[i + 5]] ^ t1[data[i + 6]] ^ t0[data[i + 7]];
  }
  for (; i < n; i++) c = t0[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

type NativeCrc = (data: Uint8Array, value?: number) => number;
const nativeCrc: NativeCrc | undefined = (zlib as unknown as { crc32?: NativeCrc }).crc32;

/** CRC-32 continuing from `crc` (0 for a fresh hash); native when Node provides it. */
export function crc32(data: Uint8Array, crc = 0): number {
  return nativeCrc ? nativeCrc(data, crc) >>> 0 : crc32Js(data, crc);
}

export function crcHex(crc: number): string {
  return (crc >>> 0).toString(16).padStart(8, '0');
}
