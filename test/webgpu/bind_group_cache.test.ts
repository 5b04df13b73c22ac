// The bind-group cache's lookup: exact match on every number of the key (so hash collisions and
// keys that share a prefix cannot return a wrong group), and a full cache starts over.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BindGroupCache } from '../../src/backend/webgpu/bind_group_cache.js';

const group = (name: string) => ({ label: name }) as unknown as GPUBindGroup;

function put(c: BindGroupCache, key: number[], g: GPUBindGroup): void {
  c.key.set(key);
  c.set(key.length, g);
}
function get(c: BindGroupCache, key: number[]): GPUBindGroup | undefined {
  c.key.set(key);
  return c.get(key.length);
}

test('bind-group cache: exact keys only, prefixes and large values apart', () => {
  const c = new BindGroupCache(100);
  const a = group('a'), b = group('b'), d = group('d');
  put(c, [1, 2, 0, 256], a);
  put(c, [1, 2, 0, 256, 3], b);                 // the same prefix, one binding more
  put(c, [1, 2, 2 ** 32 + 256, 256], d);        // differs only above 32 bits
  assert.is(get(c, [1, 2, 0, 256]), a);
  assert.is(get(c, [1, 2, 0, 256, 3]), b);
  assert.is(get(c, [1, 2, 2 ** 32 + 256, 256]), d);
  assert.is(get(c, [1, 2, 256, 256]), undefined);
  assert.is(get(c, [1, 2, 0]), undefined);
  assert.is(c.size, 3);
});

test('bind-group cache: many keys all found again, and a full cache is cleared', () => {
  const c = new BindGroupCache(5000);
  const groups: GPUBindGroup[] = [];
  for (let i = 0; i < 4000; i++) { groups.push(group(`g${i}`)); put(c, [i % 97, i, (i * 256) % 65536, 1024], groups[i]); }
  for (let i = 0; i < 4000; i++) assert.is(get(c, [i % 97, i, (i * 256) % 65536, 1024]), groups[i], `key ${i}`);
  const small = new BindGroupCache(2);
  put(small, [1], group('1')); put(small, [2], group('2')); put(small, [3], group('3'));
  assert.is(small.size, 1, 'the third entry found the cache full and started it over');
  assert.is(get(small, [1]), undefined);
  assert.ok(get(small, [3]));
});

test.run();
