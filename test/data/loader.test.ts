// GpuLoader on the cpu backend: epoch coverage, seeded shuffling, labels and pixels matching
// the indices, partial/dropped last batches, streamed chunks ≡ resident, resume mid-epoch.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import { cpu } from '../../src/backend/registry.js';
import { GpuLoader, type LoaderBatch } from '../../src/data/loader.js';
import { loadSplit } from '../../src/data/reader.js';
import { LABEL, imageId, makeDataset } from './loader_fixtures.js';

const COUNT = 53, SIZE = 4 * 4 * 3;
const dir = makeDataset({ train: COUNT, test: 11 });

/** What a batch means on the host: the dataset index behind each idx entry, and its label. */
function decode(b: LoaderBatch): { ids: number[]; labels: number[]; indices: number[] } {
  const images = b.images.dataSync() as Uint8Array;
  const idx = b.idx.dataSync() as Int32Array;
  return {
    ids: Array.from(idx, (p) => imageId(images, p, SIZE)),
    labels: Array.from(b.labels.dataSync() as Int32Array),
    indices: Array.from(b.indices),
  };
}

function collect(loader: GpuLoader, epoch: number): ReturnType<typeof decode>[] {
  const out: ReturnType<typeof decode>[] = [];
  for (const b of loader.epoch(epoch)) out.push(decode(b));
  return out;
}

test('an epoch visits every image once; pixels and labels follow the indices', () => {
  const loader = new GpuLoader(dir, 'train', { batchSize: 8, seed: 1, dropLast: false, backend: cpu() });
  assert.is(loader.stepsPerEpoch, 7);
  assert.is(loader.streamed, false);
  const batches = collect(loader, 0);
  assert.equal(batches.map((b) => b.ids.length), [8, 8, 8, 8, 8, 8, 5]);
  const seen = batches.flatMap((b) => b.ids);
  assert.equal([...seen].sort((a, b) => a - b), Array.from({ length: COUNT }, (_, i) => i));
  for (const b of batches) {
    assert.equal(b.ids, b.indices);
    assert.equal(b.labels, b.ids.map(LABEL));
  }
  assert.not.equal(seen, Array.from({ length: COUNT }, (_, i) => i), 'shuffled');
  loader.dispose();
});

test('dropLast drops the partial batch; the test split is not shuffled by default', () => {
  const train = new GpuLoader(dir, 'train', { batchSize: 8, seed: 1, dropLast: true, backend: cpu() });
  assert.is(train.stepsPerEpoch, 6);
  assert.is(collect(train, 0).flatMap((b) => b.ids).length, 48);
  const test_ = new GpuLoader(dir, 'test', { batchSize: 4, seed: 1, dropLast: false, backend: cpu() });
  assert.equal(collect(test_, 0).flatMap((b) => b.ids), Array.from({ length: 11 }, (_, i) => i));
});

test('order depends on (seed, epoch) only', () => {
  const mk = (seed: number) => new GpuLoader(dir, 'train', { batchSize: 8, seed, dropLast: false, backend: cpu() });
  const a = mk(5), b = mk(5), c = mk(6);
  const e0 = collect(a, 0).flatMap((x) => x.ids);
  assert.equal(collect(b, 0).flatMap((x) => x.ids), e0);
  assert.not.equal(collect(a, 1).flatMap((x) => x.ids), e0, 'another epoch, another order');
  assert.not.equal(collect(c, 0).flatMap((x) => x.ids), e0, 'another seed, another order');
  assert.equal(Array.from(a.order(3)), Array.from(b.order(3)));
});

test('streamed chunks (file reads) give exactly the resident sequence', () => {
  const resident = new GpuLoader(dir, 'train', { batchSize: 8, seed: 2, dropLast: false, backend: cpu() });
  const streamed = new GpuLoader(dir, 'train', { batchSize: 8, seed: 2, dropLast: false, backend: cpu(), residentBytes: 20 * SIZE });
  assert.is(streamed.streamed, true);
  assert.is(streamed.chunkImages, 16);
  for (const e of [0, 1]) assert.equal(collect(streamed, e), collect(resident, e));
  // In-memory split data streams too.
  const mem = new GpuLoader({ train: loadSplit(dir, 'train') }, 'train',
    { batchSize: 8, seed: 2, dropLast: false, backend: cpu(), residentBytes: 9 * SIZE });
  assert.is(mem.chunkImages, 8);
  assert.equal(collect(mem, 1), collect(resident, 1));
  streamed.dispose();
});

test('resume mid-epoch from getState() continues the same sequence and augmentation stream', () => {
  const opts = { batchSize: 8, seed: 9, dropLast: true, backend: cpu() };
  const full = new GpuLoader(dir, 'train', opts);
  const whole = collect(full, 2);
  const first = new GpuLoader(dir, 'train', opts);
  const got: ReturnType<typeof decode>[] = [];
  for (const b of first.epoch(2)) {
    got.push(decode(b));
    first.augRng.next();
    if (b.step === 2) break;
  }
  const state = JSON.parse(JSON.stringify(first.getState()));
  assert.equal([state.epoch, state.step], [2, 3]);
  const resumed = new GpuLoader(dir, 'train', opts);
  resumed.setState(state);
  assert.is(resumed.augRng.next(), first.augRng.next());
  for (const b of resumed.epoch(2)) got.push(decode(b));
  assert.equal(got, whole);
  assert.equal(resumed.getState().epoch, 3, 'a finished epoch points at the next one');
});

test('errors name the problem', () => {
  assert.throws(() => new GpuLoader(dir, 'train', { batchSize: 0, seed: 1, dropLast: true, backend: cpu() }), /batchSize/);
  assert.throws(() => new GpuLoader(dir, 'train', { batchSize: 64, seed: 1, dropLast: true, backend: cpu() }), /no batch/);
  assert.throws(() => new GpuLoader({}, 'train', { batchSize: 4, seed: 1, dropLast: true, backend: cpu() }), /no "train" split/);
  const l = new GpuLoader(dir, 'train', { batchSize: 8, seed: 1, dropLast: true, backend: cpu() });
  assert.throws(() => l.setState({ ...l.getState(), seed: 2 }), /seed/);
});

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

test.run();
