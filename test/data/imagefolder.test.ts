import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import jpeg from 'jpeg-js';
import { prepareDataset } from '../../src/data/prepare.js';
import { loadSplit } from '../../src/data/reader.js';
import { encodePng } from './fixtures/png-encode.js';
import { entries, rejects, rm, tmpDir } from './fixtures/tmp.js';

/** A solid-colour image whose colour encodes (class, index), so labels can be checked from pixels. */
function colour(cls: number, i: number): [number, number, number] { return [40 + cls * 60, 20 + i * 30, 200 - cls * 50]; }

function writeImage(file: string, cls: number, i: number, kind: 'png' | 'jpeg', w = 10, h = 6) {
  const [r, g, b] = colour(cls, i);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (kind === 'png') {
    const data = new Uint8Array(w * h * 3);
    for (let p = 0; p < w * h; p++) { data[3 * p] = r; data[3 * p + 1] = g; data[3 * p + 2] = b; }
    fs.writeFileSync(file, encodePng({ width: w, height: h, channels: 3, data }));
  } else {
    const data = new Uint8Array(w * h * 4);
    for (let p = 0; p < w * h; p++) { data[4 * p] = r; data[4 * p + 1] = g; data[4 * p + 2] = b; data[4 * p + 3] = 255; }
    fs.writeFileSync(file, jpeg.encode({ width: w, height: h, data }, 100).data);
  }
}

function checkPixels(out: string, split: string, expect: [number, number][], size: number, tol: number) {
  const s = loadSplit(out, split, { verify: true });
  assert.is(s.count, expect.length);
  expect.forEach(([cls, i], k) => {
    assert.is(s.labels[k], cls, `label of ${split}[${k}]`);
    const want = colour(cls, i);
    const centre = ((k * size + (size >> 1)) * size + (size >> 1)) * 3;
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(s.images[centre + c] - want[c]) <= tol, `${split}[${k}] channel ${c}: ${s.images[centre + c]} vs ${want[c]}`);
  });
}

for (const workers of [1, 2]) {
  test(`imagefolder (ImageNet layout, PNG + JPEG, ${workers} worker(s))`, async () => {
    const root = tmpDir();
    try {
      const src = path.join(root, 'in100');
      // classes sorted by folder name: "ant" = 0, "bee" = 1
      writeImage(path.join(src, 'train/bee/b0.JPEG'), 1, 0, 'jpeg');
      writeImage(path.join(src, 'train/bee/b1.png'), 1, 1, 'png', 5, 9);
      writeImage(path.join(src, 'train/ant/a0.jpg'), 0, 0, 'jpeg', 12, 12);
      writeImage(path.join(src, 'train/ant/a1.JPEG'), 0, 1, 'png'); // a PNG named .JPEG, as in ImageNet
      writeImage(path.join(src, 'val/bee/v0.JPEG'), 1, 2, 'jpeg');
      fs.writeFileSync(path.join(src, 'train/ant/notes.txt'), 'not an image');
      const out = path.join(root, 'out');
      const meta = await prepareDataset({ format: 'imagefolder', src, out, size: 8, workers, progress: false });
      assert.equal(meta.classes, ['ant', 'bee']);
      assert.equal(meta.shape, [8, 8, 3]);
      checkPixels(out, 'train', [[0, 0], [0, 1], [1, 0], [1, 1]], 8, 3);
      checkPixels(out, 'test', [[1, 2]], 8, 3);
      assert.equal(entries(root), ['in100', 'out']);
    } finally { rm(root); }
  });
}

test('imagefolder (Tiny-ImageNet layout with val_annotations.txt)', async () => {
  const root = tmpDir();
  try {
    const src = path.join(root, 'tiny');
    writeImage(path.join(src, 'train/n02/images/n02_0.JPEG'), 1, 0, 'jpeg');
    writeImage(path.join(src, 'train/n01/images/n01_0.JPEG'), 0, 0, 'jpeg');
    fs.writeFileSync(path.join(src, 'train/n01/n01_boxes.txt'), '');
    writeImage(path.join(src, 'val/images/val_1.JPEG'), 0, 3, 'jpeg');
    writeImage(path.join(src, 'val/images/val_0.JPEG'), 1, 4, 'png');
    fs.writeFileSync(path.join(src, 'val/val_annotations.txt'), 'val_1.JPEG\tn01\t0\t0\t5\t5\nval_0.JPEG\tn02\t1\t1\t4\t4\n');
    const out = path.join(root, 'out');
    const meta = await prepareDataset({ format: 'imagefolder', src, out, size: 6, progress: false });
    assert.equal(meta.classes, ['n01', 'n02']);
    assert.is(meta.source.layout, 'tiny-imagenet');
    checkPixels(out, 'train', [[0, 0], [1, 0]], 6, 3);
    checkPixels(out, 'test', [[1, 4], [0, 3]], 6, 3); // sorted by file name: val_0, val_1
    // A seeded subset decodes only the files it keeps.
    const sub = await prepareDataset({ format: 'imagefolder', src, out: path.join(root, 'sub'), size: 6, train: 1, seed: 2, progress: false });
    assert.is(sub.splits.train.count, 1);
    assert.is(sub.splits.test.count, 2);
    assert.equal(sub.source.subset, { seed: 2, train: '1 of 2' });
  } finally { rm(root); }
});

test('imagefolder errors: empty class folder, corrupt image, no --size, no val, unknown val class', async () => {
  const root = tmpDir();
  try {
    const src = path.join(root, 'src'), out = path.join(root, 'out');
    writeImage(path.join(src, 'train/a/0.png'), 0, 0, 'png');
    writeImage(path.join(src, 'val/a/0.png'), 0, 0, 'png');
    const fail = async (re: RegExp, workers = 1) => {
      await rejects(prepareDataset({ format: 'imagefolder', src, out, size: 4, workers, progress: false }), re);
      assert.not.ok(fs.existsSync(out), 'nothing at --out');
      assert.equal(entries(root), ['src']);
    };
    await rejects(prepareDataset({ format: 'imagefolder', src, out, progress: false }), /--size is required/);
    fs.mkdirSync(path.join(src, 'train/b'));
    await fail(/class folder .*train\/b contains no images/);
    writeImage(path.join(src, 'train/b/0.png'), 1, 0, 'png');
    const bad = path.join(src, 'train/b/1.png');
    const bytes = encodePng({ width: 3, height: 3, channels: 3, data: new Uint8Array(27) });
    fs.writeFileSync(bad, bytes.subarray(0, bytes.length - 20));
    await fail(/train\/b\/1\.png: truncated PNG/);
    for (let i = 2; i < 80; i++) writeImage(path.join(src, `train/b/${i}.png`), 1, 0, 'png', 3, 3); // enough for 2 worker tasks
    await fail(/train\/b\/1\.png: truncated PNG/, 2);
    fs.writeFileSync(bad, new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 1, 2, 3]));
    await fail(/train\/b\/1\.png: corrupt or unsupported JPEG/);
    fs.rmSync(bad);
    writeImage(path.join(src, 'val/zebra/0.png'), 0, 0, 'png');
    await fail(/val\/zebra: class "zebra" does not exist in the train split/);
    fs.rmSync(path.join(src, 'val'), { recursive: true });
    await fail(/no val\/ or test\/ folder/);
    await rejects(prepareDataset({ format: 'imagefolder', src: path.join(root, 'missing'), out, size: 4, progress: false }), /missing is not a readable directory/);
  } finally { rm(root); }
});

test.run();
