import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'fflate';
import { prepareDataset } from '../../src/data/prepare.js';
import { loadSplit, readMeta } from '../../src/data/reader.js';
import { idxBytes } from './fixtures/idx-write.js';
import { entries, rejects, rm, tmpDir } from './fixtures/tmp.js';

function writeIdxSet(dir: string, opts: { gz: boolean; nTrain?: number; nTest?: number }) {
  const nTr = opts.nTrain ?? 6, nTe = opts.nTest ?? 4, h = 4, w = 5;
  const trImg = Uint8Array.from({ length: nTr * h * w }, (_, i) => (i * 7) & 255);
  const teImg = Uint8Array.from({ length: nTe * h * w }, (_, i) => (i * 13 + 1) & 255);
  const trL = Uint8Array.from({ length: nTr }, (_, i) => i % 3);
  const teL = Uint8Array.from({ length: nTe }, (_, i) => 2 - (i % 3));
  const files: [string, Uint8Array][] = [
    ['train-images-idx3-ubyte', idxBytes([nTr, h, w], trImg)],
    ['train-labels-idx1-ubyte', idxBytes([nTr], trL)],
    ['t10k-images-idx3-ubyte', idxBytes([nTe, h, w], teImg)],
    ['t10k-labels-idx1-ubyte', idxBytes([nTe], teL)],
  ];
  for (const [name, bytes] of files) {
    fs.writeFileSync(path.join(dir, opts.gz ? `${name}.gz` : name), opts.gz ? gzipSync(bytes) : bytes);
  }
  return { trImg, teImg, trL, teL, h, w };
}

for (const gz of [false, true]) {
  test(`idx: prepare ${gz ? 'gzipped' : 'raw'} files`, async () => {
    const root = tmpDir();
    try {
      const src = path.join(root, 'digits'); fs.mkdirSync(src);
      const x = writeIdxSet(src, { gz });
      const out = path.join(root, 'out');
      const meta = await prepareDataset({ format: 'idx', src, out, progress: false });
      assert.equal(meta.shape, [x.h, x.w, 1]);
      assert.equal(meta.classes, ['0', '1', '2']);
      assert.is(meta.name, 'digits');
      const tr = loadSplit(out, 'train', { verify: true });
      assert.equal(Array.from(tr.images), Array.from(x.trImg));
      assert.equal(Array.from(tr.labels), Array.from(x.trL));
      const te = loadSplit(out, 'test');
      assert.equal(Array.from(te.images), Array.from(x.teImg));
      assert.equal(Array.from(te.labels), Array.from(x.teL));
      assert.equal(entries(root), ['digits', 'out']); // no temporary directory left
    } finally { rm(root); }
  });
}

test('idx: --train/--test keep a seeded random subset, in source order, recorded in meta.json', async () => {
  const root = tmpDir();
  try {
    const src = path.join(root, 'digits'); fs.mkdirSync(src);
    const x = writeIdxSet(src, { gz: false, nTrain: 40, nTest: 12 });
    const per = x.h * x.w;
    const prep = (name: string, seed: number, train: number, test?: number) =>
      prepareDataset({ format: 'idx', src, out: path.join(root, name), progress: false, seed, train, test });
    const meta = await prep('a', 3, 10, 5);
    assert.equal(meta.splits.train.count, 10);
    assert.equal(meta.splits.test.count, 5);
    assert.equal(meta.source.subset, { seed: 3, train: '10 of 40', test: '5 of 12' });
    const tr = loadSplit(path.join(root, 'a'), 'train', { verify: true });
    // Each kept image is a source image with its own label, and source order is kept.
    let last = -1;
    for (let i = 0; i < 10; i++) {
      const img = Array.from(tr.images.subarray(i * per, (i + 1) * per));
      const j = Array.from({ length: 40 }, (_, k) => k).find((k) => img.every((v, q) => v === x.trImg[k * per + q]))!;
      assert.ok(j !== undefined && j > last, `image ${i} comes from source index ${j}`);
      assert.is(tr.labels[i], x.trL[j]);
      last = j;
    }
    const again = await prep('b', 3, 10, 5), other = await prep('c', 4, 10);
    assert.equal(Array.from(loadSplit(path.join(root, 'b'), 'train').images), Array.from(tr.images), 'same seed, same subset');
    assert.not.equal(Array.from(loadSplit(path.join(root, 'c'), 'train').images), Array.from(tr.images), 'another seed, another subset');
    assert.is(other.splits.test.count, 12, 'no --test keeps the whole test split');
    assert.equal(other.source.subset, { seed: 4, train: '10 of 40' });
    assert.is(again.splits.train.count, 10);
  } finally { rm(root); }
});

test('idx: --size resizes every image', async () => {
  const root = tmpDir();
  try {
    const src = path.join(root, 'fashion-mini'); fs.mkdirSync(src);
    writeIdxSet(src, { gz: true });
    const out = path.join(root, 'out');
    const meta = await prepareDataset({ format: 'idx', src, out, size: 8, progress: false });
    assert.equal(meta.shape, [8, 8, 1]);
    assert.is(meta.classes[0], 'T-shirt/top'); // Fashion-MNIST names recognised from the folder name
    assert.is(loadSplit(out, 'train').images.length, 6 * 64);
  } finally { rm(root); }
});

async function expectFailure(root: string, src: string, pattern: RegExp) {
  const out = path.join(root, 'out');
  const before = entries(root);
  let err: Error | null = null;
  try { await prepareDataset({ format: 'idx', src, out, progress: false }); } catch (e) { err = e as Error; }
  assert.ok(err, 'prepare should fail');
  assert.match(err!.message, pattern);
  assert.not.ok(fs.existsSync(out), 'nothing at --out');
  assert.equal(entries(root), before, 'no temporary directory left');
}

test('idx: bad magic, truncation, corrupt gzip, count mismatch, missing files', async () => {
  const root = tmpDir();
  try {
    const src = path.join(root, 'src'); fs.mkdirSync(src);
    writeIdxSet(src, { gz: false });
    const img = path.join(src, 'train-images-idx3-ubyte');
    const good = fs.readFileSync(img);
    fs.writeFileSync(img, idxBytes([6, 4, 5], good.subarray(16), 0x12345678));
    await expectFailure(root, src, /train-images-idx3-ubyte: bad IDX magic number 0x12345678/);
    fs.writeFileSync(img, good.subarray(0, good.length - 3));
    await expectFailure(root, src, /train-images-idx3-ubyte: .*truncated/);
    fs.rmSync(img);
    const gz = gzipSync(good);
    fs.writeFileSync(`${img}.gz`, gz.subarray(0, gz.length - 20));
    await expectFailure(root, src, /train-images-idx3-ubyte\.gz: corrupt or truncated gzip/);
    const flipped = Uint8Array.from(gz); flipped[flipped.length - 12] ^= 0x40; // damage the deflate stream tail
    fs.writeFileSync(`${img}.gz`, flipped);
    await expectFailure(root, src, /train-images-idx3-ubyte\.gz: corrupt/);
    fs.writeFileSync(`${img}.gz`, good); // not gzip data despite the name
    await expectFailure(root, src, /train-images-idx3-ubyte\.gz: .*not gzip/);
    fs.writeFileSync(`${img}.gz`, gzipSync(good));
    fs.writeFileSync(path.join(src, 'train-labels-idx1-ubyte'), idxBytes([5], new Uint8Array(5)));
    await expectFailure(root, src, /train-labels-idx1-ubyte has 5 labels but .*train-images-idx3-ubyte\.gz has 6 images/);
    fs.rmSync(path.join(src, 'train-labels-idx1-ubyte'));
    await expectFailure(root, src, /missing IDX file\(s\) train-labels-idx1-ubyte/);
    await expectFailure(root, path.join(root, 'does-not-exist'), /cannot read IDX source directory .*does-not-exist/);
  } finally { rm(root); }
});

test('prepare refuses a non-empty --out unless --force, and --force replaces it', async () => {
  const root = tmpDir();
  try {
    const src = path.join(root, 'src'); fs.mkdirSync(src);
    writeIdxSet(src, { gz: false });
    const out = path.join(root, 'out'); fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'keep.txt'), 'x');
    await rejects(prepareDataset({ format: 'idx', src, out, progress: false }), /already exists and is not empty/);
    assert.ok(fs.existsSync(path.join(out, 'keep.txt')));
    await prepareDataset({ format: 'idx', src, out, progress: false, force: true, name: 'again' });
    assert.is(readMeta(out).name, 'again');
    assert.not.ok(fs.existsSync(path.join(out, 'keep.txt')));
    assert.equal(entries(root), ['out', 'src']);
  } finally { rm(root); }
});

test.run();
