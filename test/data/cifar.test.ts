import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gzipSync } from 'fflate';
import { prepareDataset } from '../../src/data/prepare.js';
import { loadSplit } from '../../src/data/reader.js';
import { tarPack } from './fixtures/tar-write.js';
import { entries, rejects, rm, tmpDir } from './fixtures/tmp.js';

const P = 1024;

/** n CIFAR records; pixel (plane c, index p) of record i = (i*31 + c*7 + p) & 255. */
function records(n: number, labelBytes: 1 | 2, firstLabel: number): { bytes: Uint8Array; labels: number[] } {
  const rec = labelBytes + 3 * P;
  const bytes = new Uint8Array(n * rec), labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = (firstLabel + i) % (labelBytes === 1 ? 10 : 100);
    labels.push(label);
    if (labelBytes === 2) { bytes[i * rec] = label % 20; bytes[i * rec + 1] = label; } else bytes[i * rec] = label;
    for (let c = 0; c < 3; c++) for (let p = 0; p < P; p++) bytes[i * rec + labelBytes + c * P + p] = (i * 31 + c * 7 + p) & 255;
  }
  return { bytes, labels };
}

function hwcPixel(i: number, y: number, x: number, c: number): number { return (i * 31 + c * 7 + y * 32 + x) & 255; }

function cifar10Archive(extra: { drop?: string; truncate?: string } = {}) {
  const files: { name: string; data: Uint8Array }[] = [];
  const trainLabels: number[] = [];
  for (let b = 1; b <= 5; b++) {
    const r = records(2, 1, b * 2);
    trainLabels.push(...r.labels);
    files.push({ name: `cifar-10-batches-bin/data_batch_${b}.bin`, data: r.bytes });
  }
  const t = records(3, 1, 7);
  files.push({ name: 'cifar-10-batches-bin/test_batch.bin', data: t.bytes });
  files.push({ name: 'cifar-10-batches-bin/batches.meta.txt', data: new TextEncoder().encode('a0\na1\na2\na3\na4\na5\na6\na7\na8\na9\n\n') });
  const kept = files.filter((f) => !f.name.endsWith(extra.drop ?? '#'))
    .map((f) => (f.name.endsWith(extra.truncate ?? '#') ? { ...f, data: f.data.subarray(0, f.data.length - 100) } : f));
  return { tgz: gzipSync(tarPack(kept)), trainLabels, testLabels: t.labels };
}

test('cifar-10: .tar.gz → HWC images, labels, class names from batches.meta.txt', async () => {
  const root = tmpDir();
  try {
    const a = cifar10Archive();
    const src = path.join(root, 'cifar-10-binary.tar.gz');
    fs.writeFileSync(src, a.tgz);
    const out = path.join(root, 'c10');
    const meta = await prepareDataset({ format: 'cifar', src, out, progress: false });
    assert.is(meta.name, 'cifar10');
    assert.equal(meta.classes, ['a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9']);
    assert.equal(meta.shape, [32, 32, 3]);
    const tr = loadSplit(out, 'train', { verify: true });
    assert.is(tr.count, 10);
    assert.equal(Array.from(tr.labels), a.trainLabels);
    // record 3 of the train split is record 1 of data_batch_2
    for (const [y, x, c] of [[0, 0, 0], [5, 9, 1], [31, 31, 2]]) {
      assert.is(tr.images[((3 * 32 + y) * 32 + x) * 3 + c], hwcPixel(1, y, x, c));
    }
    const te = loadSplit(out, 'test');
    assert.equal(Array.from(te.labels), a.testLabels);
    assert.is(te.images[((2 * 32 + 4) * 32 + 6) * 3 + 1], hwcPixel(2, 4, 6, 1));
    // A directory holding the archive works too.
    const out2 = path.join(root, 'c10b');
    const dirSrc = path.join(root, 'd'); fs.mkdirSync(dirSrc);
    fs.copyFileSync(src, path.join(dirSrc, 'cifar-10-binary.tar.gz'));
    await prepareDataset({ format: 'cifar', src: dirSrc, out: out2, progress: false, size: 16 });
    assert.is(loadSplit(out2, 'test').images.length, 3 * 16 * 16 * 3);
  } finally { rm(root); }
});

test('cifar-100: fine labels, extracted directory', async () => {
  const root = tmpDir();
  try {
    const src = path.join(root, 'cifar-100-binary'); fs.mkdirSync(src);
    const tr = records(4, 2, 97), te = records(2, 2, 40);
    fs.writeFileSync(path.join(src, 'train.bin'), tr.bytes);
    fs.writeFileSync(path.join(src, 'test.bin'), te.bytes);
    const out = path.join(root, 'c100');
    const meta = await prepareDataset({ format: 'cifar', src: root, out, progress: false });
    assert.is(meta.name, 'cifar100');
    assert.is(meta.classes.length, 100);
    assert.equal(Array.from(loadSplit(out, 'train').labels), tr.labels); // fine labels 97, 98, 99, 0
    assert.equal(Array.from(loadSplit(out, 'test').labels), te.labels);
    assert.is(loadSplit(out, 'train').images[((1 * 32 + 2) * 32 + 3) * 3 + 2], hwcPixel(1, 2, 3, 2));
  } finally { rm(root); }
});

test('cifar: truncated archive, truncated batch, missing batch, corrupt tar header', async () => {
  const root = tmpDir();
  try {
    const src = path.join(root, 'cifar.tar.gz'), out = path.join(root, 'out');
    const check = async (data: Uint8Array, re: RegExp) => {
      fs.writeFileSync(src, data);
      await rejects(prepareDataset({ format: 'cifar', src, out, progress: false }), re);
      assert.not.ok(fs.existsSync(out));
      assert.equal(entries(root), ['cifar.tar.gz']);
    };
    const good = cifar10Archive().tgz;
    await check(good.subarray(0, good.length >> 1), /cifar\.tar\.gz: corrupt or truncated gzip/);
    await check(cifar10Archive({ truncate: 'data_batch_3.bin' }).tgz, /data_batch_3\.bin: size 6046 bytes is not a positive multiple of the 3073-byte CIFAR record/);
    await check(cifar10Archive({ drop: 'data_batch_4.bin' }).tgz, /cifar\.tar\.gz: CIFAR-10 archive is missing data_batch_4\.bin/);
    const tar = tarPack([{ name: 'x/test_batch.bin', data: new Uint8Array(3073) }]);
    tar[3] ^= 1;
    await check(gzipSync(tar), /cifar\.tar\.gz: corrupt tar header/);
    await check(gzipSync(tarPack([{ name: 'x/data_batch_1.bin', data: new Uint8Array(3073) }]).subarray(0, 1500)), /cifar\.tar\.gz: truncated tar archive/);
    await check(gzipSync(tarPack([{ name: 'readme', data: new Uint8Array(3) }])), /no CIFAR binary batches found/);
  } finally { rm(root); }
});

test.run();
