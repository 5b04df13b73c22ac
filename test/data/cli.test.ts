// `coengine data …` end to end through the real CLI: output formats, exit codes, error messages.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { entries, rm, tmpDir } from './fixtures/tmp.js';

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });

test('data prepare --format synthetic, then data info --json / --verify', () => {
  const root = tmpDir();
  try {
    const out = path.join(root, 'syn');
    const p = run('data', 'prepare', '--format', 'synthetic', '--out', out, '--train', '20', '--test', '10', '--seed', '2');
    assert.is(p.status, 0, p.stderr);
    assert.match(p.stdout, /synthetic-parts/);
    const info = run('data', 'info', out, '--json');
    assert.is(info.status, 0, info.stderr);
    const j = JSON.parse(info.stdout);
    assert.equal(Object.keys(j), ['name', 'classes', 'shape', 'splits', 'mean', 'std']);
    assert.equal(j.shape, [32, 32, 3]);
    assert.equal(j.splits, { train: { count: 20 }, test: { count: 10 } });
    assert.is(j.mean.length, 3);
    const v = run('data', 'info', out, '--verify');
    assert.is(v.status, 0, v.stderr);
    assert.match(v.stdout, /checksum ok/);
    const f = path.join(out, 'test.labels.i32');
    const b = fs.readFileSync(f); b[0] ^= 1; fs.writeFileSync(f, b);
    const bad = run('data', 'info', out, '--verify');
    assert.is.not(bad.status, 0);
    assert.match(bad.stderr, /test\.labels\.i32: CRC-32/);
  } finally { rm(root); }
});

test('data prepare errors exit non-zero, name the file, leave nothing at --out', () => {
  const root = tmpDir();
  try {
    const src = path.join(root, 'src'); fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'cifar-10-binary.tar.gz'), new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2]));
    const out = path.join(root, 'out');
    const p = run('data', 'prepare', '--format', 'cifar', src, '--out', out, '--quiet');
    assert.is.not(p.status, 0);
    assert.match(p.stderr, /cifar-10-binary\.tar\.gz: corrupt or truncated gzip/);
    assert.equal(entries(root), ['src']);
    const q = run('data', 'prepare', '--format', 'idx', src, '--out', out, '--quiet');
    assert.is.not(q.status, 0);
    assert.match(q.stderr, /missing IDX file/);
    const r = run('data', 'info', path.join(root, 'nothing'));
    assert.is.not(r.status, 0);
    assert.match(r.stderr, /nothing.*meta\.json/);
    const s = run('data', 'prepare', '--format', 'jpeg', src, '--out', out);
    assert.is.not(s.status, 0);
    assert.match(s.stderr, /jpeg/);
  } finally { rm(root); }
});

test('every data option has help text', () => {
  for (const sub of ['prepare', 'info']) {
    const h = run('data', sub, '--help');
    assert.is(h.status, 0);
    for (const line of h.stdout.split('\n').filter((l) => /^\s+-/.test(l))) {
      assert.ok(line.trim().split(/\s{2,}/).length >= 2, `option without help: ${line}`);
    }
  }
});

test.run();
