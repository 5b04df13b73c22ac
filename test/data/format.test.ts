import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32, crc32Js, crcHex } from '../../src/data/checksum.js';
import { DatasetWriter } from '../../src/data/writer.js';
import { SplitReader, loadSplit, readMeta, verifyDataset } from '../../src/data/reader.js';
import { Rng } from '../../src/runtime/rng.js';
import { Progress, fmtDuration } from '../../src/util/progress.js';
import { rm, tmpDir } from './fixtures/tmp.js';

test('crc32: standard check value and JS = native', () => {
  const v = new TextEncoder().encode('123456789');
  assert.is(crcHex(crc32Js(v)), 'cbf43926');
  assert.is(crcHex(crc32(v)), 'cbf43926');
  const rng = new Rng(3);
  const data = Uint8Array.from({ length: 10007 }, () => rng.int(256));
  assert.is(crc32Js(data), crc32(data));
  // incremental = whole
  assert.is(crc32Js(data.subarray(5000), crc32Js(data.subarray(0, 5000))), crc32Js(data));
});

function makeDataset(dir: string, h: number, w: number, c: number, nTrain: number, nTest: number) {
  const rng = new Rng(1);
  const per = h * w * c;
  const train = Uint8Array.from({ length: nTrain * per }, () => rng.int(256));
  const test = Uint8Array.from({ length: nTest * per }, () => rng.int(256));
  const trainL = Int32Array.from({ length: nTrain }, (_, i) => i % 3);
  const testL = Int32Array.from({ length: nTest }, (_, i) => (i + 1) % 3);
  const wr = new DatasetWriter(dir);
  const st = wr.split('train', nTrain, [h, w, c]);
  // out of order, in two blocks, as a worker pool would
  const half = Math.floor(nTrain / 2);
  st.writeImages(half, train.subarray(half * per));
  st.writeImages(0, train.subarray(0, half * per));
  st.writeLabels(0, trainL);
  const se = wr.split('test', nTest, [h, w, c]);
  se.writeImages(0, test);
  se.writeLabels(0, testL);
  const meta = wr.finish({ name: 'toy', classes: ['a', 'b', 'c'], source: { format: 'synthetic' } });
  return { meta, train, test, trainL, testL };
}

test('format round trip: load, stream, gather, statistics', () => {
  const dir = tmpDir();
  try {
    const { meta, train, test: testImgs, trainL, testL } = makeDataset(dir, 3, 4, 2, 11, 5);
    assert.equal(readMeta(dir).shape, [3, 4, 2]);
    assert.equal(meta.splits.train.count, 11);
    const a = loadSplit(dir, 'train', { verify: true });
    assert.equal(Array.from(a.images), Array.from(train));
    assert.equal(Array.from(a.labels), Array.from(trainL));
    const b = loadSplit(dir, 'test');
    assert.equal(Array.from(b.images), Array.from(testImgs));
    assert.equal(Array.from(b.labels), Array.from(testL));
    // per-channel mean/std against a direct computation
    for (let c = 0; c < 2; c++) {
      let s = 0, sq = 0, n = 0;
      for (let i = c; i < train.length; i += 2) { s += train[i] / 255; sq += (train[i] / 255) ** 2; n++; }
      const m = s / n;
      assert.ok(Math.abs(meta.mean[c] - m) < 1e-6, `mean[${c}]`);
      assert.ok(Math.abs(meta.std[c] - Math.sqrt(sq / n - m * m)) < 1e-6, `std[${c}]`);
    }
    const r = new SplitReader(dir, 'train');
    const chunks = [...r.chunks(4)];
    assert.equal(chunks.map((c) => c.labels.length), [4, 4, 3]);
    assert.equal(Array.from(chunks[2].images), Array.from(train.subarray(8 * 24)));
    const g = r.gather([10, 0, 10]);
    assert.equal(Array.from(g.labels), [trainL[10], trainL[0], trainL[10]]);
    assert.equal(Array.from(g.images.subarray(24, 48)), Array.from(train.subarray(0, 24)));
    assert.throws(() => r.read(10, 2), /outside/);
    r.close();
    verifyDataset(dir);
  } finally { rm(dir); }
});

test('format: corruption and truncation are detected, naming the file', () => {
  const dir = tmpDir();
  try {
    makeDataset(dir, 2, 2, 1, 6, 3);
    const f = path.join(dir, 'train.images.u8');
    const bytes = fs.readFileSync(f);
    bytes[5] ^= 0xff;
    fs.writeFileSync(f, bytes);
    assert.throws(() => verifyDataset(dir), (e: Error) => e.message.includes('train.images.u8') && /CRC-32/.test(e.message));
    assert.throws(() => loadSplit(dir, 'train', { verify: true }), /train\.images\.u8.*CRC-32/);
    fs.writeFileSync(f, bytes.subarray(0, 10));
    assert.throws(() => loadSplit(dir, 'train'), /train\.images\.u8 has 10 bytes/);
    assert.throws(() => new SplitReader(dir, 'train'), /train\.images\.u8 has 10 bytes/);
    assert.throws(() => loadSplit(dir, 'val'), /no split "val"/);
    fs.writeFileSync(path.join(dir, 'meta.json'), '{"format": "other"}');
    assert.throws(() => readMeta(dir), /meta\.json.*"format"/);
    assert.throws(() => readMeta(path.join(dir, 'nope')), /cannot read .*nope.*meta\.json/);
  } finally { rm(dir); }
});

test('writer rejects out-of-range labels and incomplete splits', () => {
  const dir = tmpDir();
  try {
    const wr = new DatasetWriter(dir);
    const s = wr.split('train', 2, [1, 1, 1]);
    s.writeImages(0, new Uint8Array(2));
    s.writeLabels(0, Int32Array.from([0, 5]));
    const t = wr.split('test', 1, [1, 1, 1]);
    t.writeLabels(0, Int32Array.from([0]));
    assert.throws(() => wr.finish({ name: 'x', classes: ['a', 'b'], source: { format: 'synthetic' } }), /wrote 0 images/);
  } finally { rm(dir); }
  const dir2 = tmpDir();
  try {
    const wr = new DatasetWriter(dir2);
    const s = wr.split('train', 2, [1, 1, 1]);
    s.writeImages(0, new Uint8Array(2)); s.writeLabels(0, Int32Array.from([0, 5]));
    const t = wr.split('test', 1, [1, 1, 1]);
    t.writeImages(0, new Uint8Array(1)); t.writeLabels(0, Int32Array.from([0]));
    assert.throws(() => wr.finish({ name: 'x', classes: ['a', 'b'], source: { format: 'synthetic' } }), /train\.labels\.i32: label 5 at index 1/);
  } finally { rm(dir2); }
});

test('progress: bar text with rate and ETA', () => {
  const chunks: string[] = [];
  const stream = { write: (s: string) => { chunks.push(s); return true; }, isTTY: false } as unknown as NodeJS.WritableStream;
  const p = new Progress('work', 200, { stream, unit: 'img', logIntervalMs: 0 });
  p.update(50);
  assert.match(p.render(Date.now() + 1000), /work \[#{6}-{18}\]  25% 50\/200 img .* ETA /);
  p.update(200);
  p.finish(); p.finish();
  assert.ok(chunks.length === 2, `two lines (first update, finish), got ${chunks.length}`);
  assert.match(chunks[1], /100% 200\/200 img .*done in/);
  assert.is(fmtDuration(3725), '1:02:05');
  assert.is(fmtDuration(65), '1:05');
});

test.run();
