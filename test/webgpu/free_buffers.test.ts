// The pool's free lists (src/backend/webgpu/storage.ts FreeBuffers): which free buffer an
// allocation gets. Deterministic choices are what let a repeated step bind the same buffers, and
// so hit the bind-group cache every time. Pure bookkeeping: no adapter needed (stand-in buffers).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FreeBuffers } from '../../src/backend/webgpu/storage.js';

/** Stand-in buffers numbered in creation order, as the runtime's idOf numbers real ones. */
function pool(limit = 2) {
  const ids = new WeakMap<object, number>();
  let next = 1;
  const idOf = (o: object) => { let id = ids.get(o); if (id === undefined) ids.set(o, (id = next++)); return id; };
  const make = (size: number) => { const b = { size } as unknown as GPUBuffer; idOf(b); return b; };
  return { free: new FreeBuffers(idOf, limit), make, idOf };
}

test('take: the lowest-numbered buffer of the class, whatever order they came back in', () => {
  const { free, make } = pool();
  const [a, b, c] = [make(1024), make(1024), make(1024)];
  free.put(c, 1024); free.put(a, 1024); free.put(b, 1024);
  assert.is(free.take(1024, 1000), a);
  assert.is(free.take(1024, 1000), b);
  assert.is(free.take(1024, 1000), c);
  assert.is(free.take(1024, 1000), undefined);
});

test('take: else the smallest larger size that holds the bytes, up to the limit times the class', () => {
  const { free, make } = pool(2);
  const big = make(4096), mid = make(2048), odd = make(1536);
  free.put(big, 4096); free.put(mid, 2048); free.put(odd, 1536);
  assert.is(free.take(1024, 1000), odd, 'the smallest size above the bytes asked');
  assert.is(free.take(1024, 1000), mid);
  assert.is(free.take(1024, 1000), undefined, '4096 is past 2 × 1024');
  assert.is(free.take(2048, 2000), big);
  // A size between classes (a dissolved arena's buffer) serves only what fits it.
  const arena = make(1300);
  free.put(arena, 1300);
  assert.is(free.take(2048, 1400), undefined);
  assert.is(free.take(1024, 1200), arena);
});

test('take with limit 1: only the class itself', () => {
  const { free, make } = pool(1);
  free.put(make(2048), 2048);
  assert.is(free.take(1024, 1000), undefined);
});

test('takeNotIn: the lowest-numbered of the class that is not busy', () => {
  const { free, make } = pool();
  const [a, b, c] = [make(512), make(512), make(512)];
  for (const x of [a, b, c]) free.put(x, 512);
  assert.is(free.takeNotIn(512, new Set([a])), b);
  assert.is(free.takeNotIn(512, new Set([a, c])), undefined);
  assert.is(free.takeNotIn(256, new Set()), undefined, 'no list of that size');
  assert.is(free.take(512, 512), a);
});

test('bySize, remove and clear', () => {
  const { free, make } = pool();
  const [a, b, c, d] = [make(2048), make(1024), make(2048), make(1024)];
  for (const x of [c, a, d, b]) free.put(x, x.size);
  assert.equal(free.bySize(), [b, d, a, c], 'by size, then creation order');
  free.remove(d);
  assert.equal(free.bySize(), [b, a, c]);
  assert.throws(() => free.remove(d), /not free/);
  assert.equal(new Set(free.clear()), new Set([a, b, c]));
  assert.equal(free.bySize(), []);
  assert.is(free.take(1024, 1024), undefined);
});

test.run();
