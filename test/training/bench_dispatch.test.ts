// bench/dispatch.ts: the three host-cost rows come out, each a positive per-call time, and the
// runtime's whole dispatch costs at least what Dawn's three calls alone do (it makes them).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { benchDispatch } from '../../bench/dispatch.js';
import { gpuBackendOrSkip } from '../helpers/gpu.js';

test('bench dispatch: pipeline lookup, runtime dispatch, Dawn alone', async () => {
  if (!(await gpuBackendOrSkip('bench dispatch'))) return;
  const rows = await benchDispatch(2000);
  assert.equal(rows.length, 3);
  for (const r of rows) assert.ok(r.usPerCall > 0 && Number.isFinite(r.usPerCall), `${r.what}: ${r.usPerCall}`);
  const [, runtime, dawn] = rows;
  assert.ok(runtime.usPerCall >= 0.8 * dawn.usPerCall, `runtime.dispatch ${runtime.usPerCall} µs vs Dawn's calls ${dawn.usPerCall} µs`);
});

test.run();
