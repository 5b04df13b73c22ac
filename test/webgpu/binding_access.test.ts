// How kernels declare their storage bindings (src/backend/webgpu/binding_access.ts): what the
// step memory plan may put in one buffer. Pure parsing: no adapter needed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync, readFileSync } from 'node:fs';
import { ANY_ACCESS, READ_ACCESS, WRITE_ACCESS, bindingAccess, conflicting } from '../../src/backend/webgpu/binding_access.js';

test('bindingAccess: read, read_write, uniform, undeclared, and a binding declared both ways', () => {
  const code = `
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0)@binding(3)var<storage> b: array<f32>;        // default access: read
@group(0) @binding(4) var<storage, read_write> c1: array<f32>;
@group(0) @binding(4) var<storage, read> c2: array<f32>; // another entry point's view of binding 4
@group(0) @binding(5) var<uniform> params: P;`;
  assert.equal(bindingAccess(code), [READ_ACCESS, WRITE_ACCESS, ANY_ACCESS, READ_ACCESS, ANY_ACCESS, READ_ACCESS]);
});

test('conflicting: only read-only against writable', () => {
  assert.not.ok(conflicting(READ_ACCESS, READ_ACCESS));
  assert.not.ok(conflicting(WRITE_ACCESS, WRITE_ACCESS));
  assert.ok(conflicting(READ_ACCESS, WRITE_ACCESS));
  assert.ok(conflicting(WRITE_ACCESS, READ_ACCESS));
  assert.ok(conflicting(ANY_ACCESS, READ_ACCESS) && conflicting(WRITE_ACCESS, ANY_ACCESS));
});

test('every kernel\'s storage bindings are read by bindingAccess (none left as unknown for want of parsing)', () => {
  const dir = new URL('../../../kernels/', import.meta.url);
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.wgsl'))) {
    const code = readFileSync(new URL(file, dir), 'utf8');
    const declared = [...code.matchAll(/@binding\(\s*(\d+)\s*\)/g)].map((m) => Number(m[1]));
    const access = bindingAccess(code);
    for (const i of declared) assert.ok(access[i] !== undefined, `${file}: binding ${i} not read`);
    // A binding is unknown only when the file declares it both ways (different entry points).
    access.forEach((a, i) => {
      if (a === ANY_ACCESS) assert.ok(declared.filter((d) => d === i).length > 1, `${file}: binding ${i} unknown`);
    });
  }
});

test.run();
