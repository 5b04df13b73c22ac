// Prepares the real Fashion-MNIST from Debian's dataset-fashion-mnist package when it is
// installed (apt-get install dataset-fashion-mnist); skipped with a message otherwise.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { prepareDataset } from '../../src/data/prepare.js';
import { SplitReader, verifyDataset } from '../../src/data/reader.js';
import { rm, tmpDir } from './fixtures/tmp.js';

const SRC = '/usr/share/datasets/fashion-mnist';
const present = fs.existsSync(path.join(SRC, 'train-images-idx3-ubyte.gz'));

if (!present) {
  test.skip(`Fashion-MNIST (not installed: ${SRC} absent; apt-get install dataset-fashion-mnist)`, () => {});
  console.log(`  skipping Fashion-MNIST test: ${SRC} not found (apt-get install dataset-fashion-mnist)`);
} else {
  test('Fashion-MNIST from /usr/share/datasets: 60,000 + 10,000 images, known mean/std', async () => {
    const root = tmpDir();
    try {
      const out = path.join(root, 'fmnist');
      const t0 = Date.now();
      const meta = await prepareDataset({ format: 'idx', src: SRC, out, progress: false });
      console.log(`  prepared Fashion-MNIST in ${Date.now() - t0} ms`);
      assert.is(meta.splits.train.count, 60000);
      assert.is(meta.splits.test.count, 10000);
      assert.equal(meta.shape, [28, 28, 1]);
      assert.is(meta.classes[9], 'Ankle boot');
      // Widely published statistics of the Fashion-MNIST train split.
      assert.ok(Math.abs(meta.mean[0] - 0.2860) < 5e-4, `mean ${meta.mean[0]}`);
      assert.ok(Math.abs(meta.std[0] - 0.3530) < 5e-4, `std ${meta.std[0]}`);
      verifyDataset(out);
      const r = new SplitReader(out, 'train');
      const counts = new Array(10).fill(0);
      for (const l of r.labels) counts[l]++;
      assert.ok(counts.every((c) => c === 6000), `balanced classes ${counts}`);
      r.close();
    } finally { rm(root); }
  });
}

test.run();
