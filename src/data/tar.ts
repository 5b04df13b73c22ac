// A minimal in-memory tar reader (POSIX ustar, GNU long names, pax path records): enough for
// the CIFAR archives. Header checksums are verified so a corrupt archive fails loudly.
import { DatasetError } from './format.js';

export interface TarEntry { name: string; type: 'file' | 'dir' | 'other'; data: Uint8Array }

function cstr(b: Uint8Array, start: number, len: number): string {
  let end = start;
  while (end < start + len && b[end] !== 0) end++;
  return new TextDecoder().decode(b.subarray(start, end));
}

function octal(b: Uint8Array, start: number, len: number, archive: string, what: string): number {
  // GNU base-256 for big sizes: high bit of the first byte set.
  if (b[start] & 0x80) {
    let v = b[start] & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + b[start + i];
    return v;
  }
  const s = cstr(b, start, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new DatasetError(`${archive}: corrupt tar header (${what} field ${JSON.stringify(s)} is not octal)`);
  return parseInt(s, 8);
}

function isZeroBlock(b: Uint8Array, off: number): boolean {
  for (let i = off; i < off + 512; i++) if (b[i] !== 0) return false;
  return true;
}

export function* tarEntries(buf: Uint8Array, archive: string): Generator<TarEntry> {
  let off = 0;
  let longName: string | null = null;
  while (true) {
    if (off + 512 > buf.length) {
      throw new DatasetError(`${archive}: truncated tar archive (no end-of-archive marker; stopped at byte ${off} of ${buf.length})`);
    }
    if (isZeroBlock(buf, off)) return;
    const stored = octal(buf, off + 148, 8, archive, 'checksum');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : buf[off + i];
    if (sum !== stored) throw new DatasetError(`${archive}: corrupt tar header at byte ${off} (checksum ${sum} ≠ ${stored})`);
    const size = octal(buf, off + 124, 12, archive, 'size');
    const typeflag = String.fromCharCode(buf[off + 156] || 0x30);
    let name = cstr(buf, off, 100);
    if (cstr(buf, off + 257, 6) === 'ustar') {
      const prefix = cstr(buf, off + 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    const dataStart = off + 512;
    if (dataStart + size > buf.length) {
      throw new DatasetError(`${archive}: truncated tar archive (entry ${name} needs ${size} bytes, ${buf.length - dataStart} left)`);
    }
    const data = buf.subarray(dataStart, dataStart + size);
    off = dataStart + Math.ceil(size / 512) * 512;
    if (typeflag === 'L') { longName = cstr(data, 0, data.length); continue; }
    if (typeflag === 'x') {
      const p = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(new TextDecoder().decode(data));
      if (p) longName = p[1];
      continue;
    }
    if (typeflag === 'g') continue;
    if (longName !== null) { name = longName; longName = null; }
    const type = typeflag === '0' || typeflag === '\0' || typeflag === '7' ? 'file' : typeflag === '5' ? 'dir' : 'other';
    yield { name, type, data };
  }
}
