// bench/dispatch.ts: the three host-cost rows come out, each a positive, finite per-call time
// (no timing comparison: CI machines are noisy).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { benchDispatch } from '../../bench/dispatch.js';
import { gpuBackendOrSkip } from '../helpers/gpu.js';

test('bench dispatch: pipeline lookup, runtime dispatch, Dawn alone', async () => {
  if (!(await gpuBackendOrSkip('bench dispatch'))) return;
  const rows = await benchDispatch(2000);
  assert.equal(rows.length, 3);
  for (const r of rows) assert.ok(r.usPerCall > 0 && Number.isFinite(r.usPerCall), `${r.what}: ${r.usPerCall}`);
  assert.ok(rows.some((r) => r.what.startsWith('Dawn')) && rows.some((r) => r.what.startsWith('runtime.dispatch')));
});

test.run();
