// Configuration layering: defaults < preset < --config file < flags; method-specific defaults;
// clear errors for unknown fields and bad values.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULTS, PRESETS, loadConfigFile, resolveConfig } from '../../src/training/config.js';

test('later layers win; unset fields keep the defaults', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'coengine-cfg-'));
  const file = path.join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ epochs: 7, ws: 0.2 }));
  const c = resolveConfig([PRESETS.cifar, loadConfigFile(file), { ws: 0.5, seed: undefined }]);
  assert.is(c.epochs, 7);
  assert.is(c.ws, 0.5);
  assert.is(c.arch, PRESETS.cifar.arch);
  assert.is(c.seed, DEFAULTS.seed);
});

test('method-specific learning rate, EMA base and probe lr (SPEC §5)', () => {
  assert.is(resolveConfig([{ method: 'co-byol' }]).lr, 1.0);
  assert.is(resolveConfig([{ method: 'byol', imageSize: 224 }]).lr, 0.5);
  assert.is(resolveConfig([{ method: 'mocov3' }]).lr, 0.3);
  assert.is(resolveConfig([{ method: 'mocov3' }]).probeLr, 0.3);
  assert.is(resolveConfig([{ method: 'dino' }]).tauBase, 0.9995);
  assert.is(resolveConfig([{ method: 'byol' }]).tauBase, 0.99);
  assert.is(resolveConfig([{ method: 'byol', lr: 0.05 }]).lr, 0.05);
  assert.is(resolveConfig([{ method: 'byol-mc' }]).smallCrops, 4);
});

test('a config file with unknown fields or invalid JSON is rejected with its name', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'coengine-cfg-'));
  const bad = path.join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ epoch: 3 }));
  assert.throws(() => loadConfigFile(bad), /bad\.json: unknown field\(s\) epoch/);
  writeFileSync(bad, '{ nope');
  assert.throws(() => loadConfigFile(bad), /bad\.json/);
  assert.throws(() => resolveConfig([{ localGrid: -1 }]), /localGrid/);
  assert.throws(() => resolveConfig([{ device: 'tpu' as never }]), /device/);
});

test.run();
