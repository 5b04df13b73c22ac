import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  SYNTHETIC_CLASSES, SYNTHETIC_PAIRS, SYNTHETIC_PARTS, describeSynthetic, generateSynthetic,
} from '../../src/data/synthetic.js';
import { prepareDataset } from '../../src/data/prepare.js';
import { loadSplit } from '../../src/data/reader.js';
import { linearProbe, pixelsToFloat } from './fixtures/linear-probe.js';
import { rm, tmpDir } from './fixtures/tmp.js';

test('synthetic: deterministic by (seed, split, index); seeds and splits differ', () => {
  const a = generateSynthetic({ seed: 3, split: 'train', count: 20 });
  const b = generateSynthetic({ seed: 3, split: 'train', count: 20 });
  assert.equal(Array.from(a.images), Array.from(b.images));
  const tail = generateSynthetic({ seed: 3, split: 'train', count: 5, start: 15 });
  assert.equal(Array.from(tail.images), Array.from(a.images.subarray(15 * 3072)));
  const c = generateSynthetic({ seed: 4, split: 'train', count: 20 });
  const d = generateSynthetic({ seed: 3, split: 'test', count: 20 });
  assert.not.equal(Array.from(c.images), Array.from(a.images));
  assert.not.equal(Array.from(d.images), Array.from(a.images));
  assert.equal(Array.from(a.labels.subarray(0, 12)), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
});

test('synthetic: every scene shows exactly its class pair, and no part determines the class', () => {
  const perPart = SYNTHETIC_PARTS.map(() => new Set<number>());
  for (const [a, b] of SYNTHETIC_PAIRS) { assert.ok(a !== b); }
  assert.is(new Set(SYNTHETIC_PAIRS.map(([a, b]) => `${a},${b}`)).size, SYNTHETIC_PAIRS.length, 'class pairs are distinct');
  const sizes = new Set<number>();
  for (let i = 0; i < 500; i++) {
    const s = describeSynthetic(0, 'train', i);
    const present = new Set(s.parts.map((p) => p.part));
    assert.equal([...present].sort(), [...SYNTHETIC_PAIRS[s.label]].sort(), `scene ${i}: parts ${[...present]} vs class ${s.label}`);
    assert.ok(s.parts.length >= 2 && s.parts.length <= 3);
    sizes.add(s.parts.length);
    for (const p of s.parts) {
      assert.ok(p.x >= 0 && p.x <= 32 && p.y >= 0 && p.y <= 32 && p.r > 0, `scene ${i}: part inside the image`);
      perPart[p.part].add(s.label);
    }
  }
  assert.equal([...sizes].sort(), [2, 3], 'some scenes repeat a part');
  perPart.forEach((labels, p) => assert.ok(labels.size >= 3, `part ${SYNTHETIC_PARTS[p]} occurs with ${labels.size} classes`));
  assert.is(SYNTHETIC_CLASSES.length, 10);
});

test('synthetic: a linear probe on raw pixels fits train but stays far below 40% on test', () => {
  const tr = generateSynthetic({ seed: 0, split: 'train', count: 1500 });
  const te = generateSynthetic({ seed: 0, split: 'test', count: 500 });
  const t0 = Date.now();
  const r = linearProbe(pixelsToFloat(tr.images), tr.labels, pixelsToFloat(te.images), te.labels, 3072, 10, { epochs: 6 });
  console.log(`  linear probe on raw synthetic pixels: train ${(100 * r.trainAcc).toFixed(1)}%, test ${(100 * r.testAcc).toFixed(1)}% (chance 10%, ${Date.now() - t0} ms)`);
  assert.ok(r.trainAcc > 0.6, `the probe can fit the training set (${r.trainAcc})`);
  assert.ok(r.testAcc < 0.4, `raw pixels are a weak representation (${r.testAcc})`);
});

test('synthetic: a representation that encodes which parts are present separates the classes linearly', () => {
  // The ideal a learned representation can approach: per-part presence (what a pooled part
  // detector reports). The same probe as on raw pixels, on these 5 numbers per image.
  const P = SYNTHETIC_PARTS.length;
  const encode = (split: 'train' | 'test', n: number) => {
    const x = new Float32Array(n * P), y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const s = describeSynthetic(0, split, i);
      for (const p of s.parts) x[i * P + p.part] = 1;
      y[i] = s.label;
    }
    return { x, y };
  };
  const tr = encode('train', 1500), te = encode('test', 500);
  const r = linearProbe(tr.x, tr.y, te.x, te.y, P, 10, { epochs: 6 });
  assert.ok(r.testAcc > 0.95, `part-presence features: test accuracy ${r.testAcc}`);
});

test('synthetic: prepare --format synthetic writes the same images as the in-memory generator', async () => {
  const root = tmpDir();
  try {
    const out = path.join(root, 'syn');
    const meta = await prepareDataset({ format: 'synthetic', out, seed: 5, train: 30, test: 10, progress: false });
    assert.equal(meta.shape, [32, 32, 3]);
    assert.equal(meta.classes, SYNTHETIC_CLASSES);
    const mem = generateSynthetic({ seed: 5, split: 'test', count: 10 });
    const disk = loadSplit(out, 'test', { verify: true });
    assert.equal(Array.from(disk.images), Array.from(mem.images));
    assert.equal(Array.from(disk.labels), Array.from(mem.labels));
    assert.ok(fs.existsSync(path.join(out, 'train.images.u8')));
  } finally { rm(root); }
});

test.run();
