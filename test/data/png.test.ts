import { test } from 'uvu';
import * as assert from 'uvu/assert';
import jpeg from 'jpeg-js';
import { decodePng } from '../../src/data/png.js';
import { decodeImage, toRgb } from '../../src/data/decode.js';
import { resizeRegion, resizeSquare } from '../../src/data/resize.js';
import { Rng } from '../../src/runtime/rng.js';
import { crc32 } from '../../src/data/checksum.js';
import { encodePng } from './fixtures/png-encode.js';

const rng = new Rng(11);
const rand = (n: number, max = 256) => Uint8Array.from({ length: n }, () => rng.int(max));

for (const channels of [1, 2, 3, 4]) {
  test(`png: 8-bit, ${channels} channel(s), all five filter types`, () => {
    const w = 7, h = 10, data = rand(w * h * channels);
    const img = decodePng(encodePng({ width: w, height: h, channels, data }));
    assert.equal([img.width, img.height, img.channels], [w, h, channels]);
    assert.equal(Array.from(img.data), Array.from(data));
  });
}

for (const depth of [1, 2, 4]) {
  test(`png: ${depth}-bit gray scales to 0..255; ${depth}-bit palette`, () => {
    const w = 9, h = 5, max = 1 << depth, idx = rand(w * h, max);
    const g = decodePng(encodePng({ width: w, height: h, channels: 1, data: idx, bitDepth: depth }));
    assert.equal(Array.from(g.data), Array.from(idx, (v) => Math.round((v * 255) / (max - 1))));
    const palette = rand(3 * max);
    const p = decodePng(encodePng({ width: w, height: h, channels: 1, data: idx, bitDepth: depth, palette }));
    assert.is(p.channels, 3);
    for (let i = 0; i < w * h; i++) {
      assert.equal(Array.from(p.data.subarray(3 * i, 3 * i + 3)), Array.from(palette.subarray(3 * idx[i], 3 * idx[i] + 3)));
    }
  });
}

test('png: corrupt, truncated and interlaced files give clear errors', () => {
  const good = encodePng({ width: 4, height: 4, channels: 3, data: rand(48) });
  const bad = Uint8Array.from(good); bad[40] ^= 0xff;
  assert.throws(() => decodePng(bad), /CRC mismatch in chunk/);
  assert.throws(() => decodePng(good.subarray(0, 30)), /truncated PNG/);
  const inter = Uint8Array.from(good);
  inter[28] = 1; // IHDR interlace byte; recompute the CRC so only the interlace flag is wrong
  new DataView(inter.buffer).setUint32(29, crc32(inter.subarray(12, 29)), false);
  assert.throws(() => decodePng(inter), /interlaced \(Adam7\) PNG is not supported/);
  assert.throws(() => decodeImage(new Uint8Array([1, 2, 3, 4])), /neither PNG nor JPEG/);
});

test('jpeg: decodes jpeg-js output (RGB) close to the source; corrupt JPEG is reported', () => {
  const w = 16, h = 8, rgba = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) { rgba[4 * i] = 200; rgba[4 * i + 1] = 40; rgba[4 * i + 2] = 90; rgba[4 * i + 3] = 255; }
  const enc = jpeg.encode({ width: w, height: h, data: rgba }, 95).data;
  const img = decodeImage(enc);
  assert.equal([img.width, img.height, img.channels], [w, h, 3]);
  for (let i = 0; i < w * h; i++) assert.ok(Math.abs(img.data[3 * i] - 200) <= 4 && Math.abs(img.data[3 * i + 2] - 90) <= 4);
  assert.throws(() => decodeImage(enc.subarray(0, 40)), /JPEG/);
});

test('toRgb: gray and RGBA', () => {
  assert.equal(Array.from(toRgb({ width: 2, height: 1, channels: 2, data: Uint8Array.from([5, 255, 9, 0]) })), [5, 5, 5, 9, 9, 9]);
  assert.equal(Array.from(toRgb({ width: 1, height: 1, channels: 4, data: Uint8Array.from([1, 2, 3, 4]) })), [1, 2, 3]);
});

test('resize: area averages blocks, bilinear interpolates, centre-square crop', () => {
  // 4×2 gray → 2×1: averages of 2×2 blocks
  const src = Uint8Array.from([0, 10, 100, 200, 20, 30, 100, 0]);
  assert.equal(Array.from(resizeRegion(src, 4, 2, 1, 0, 0, 4, 2, 2, 1)), [15, 100]);
  // constant stays constant at any scale
  const c = new Uint8Array(7 * 5 * 3).fill(77);
  assert.ok(resizeRegion(c, 7, 5, 3, 0, 0, 7, 5, 3, 11).every((v) => v === 77));
  // bilinear 2 → 4 with half-pixel centres: [0, 100] → [0, 25, 75, 100]
  assert.equal(Array.from(resizeRegion(Uint8Array.from([0, 100]), 2, 1, 1, 0, 0, 2, 1, 4, 1)), [0, 25, 75, 100]);
  // 6×2 image: centre square is columns 2..3
  const wide = Uint8Array.from([1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]);
  assert.equal(Array.from(resizeSquare(wide, 6, 2, 1, 2)), [3, 4, 3, 4]);
  assert.equal(Array.from(resizeSquare(wide, 6, 2, 1, 1)), [4]); // (3+4)/2 = 3.5 → 4
});

test.run();
