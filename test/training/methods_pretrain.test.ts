// Every method runs through the whole pretraining loop (views, multi-crop, probes, optimiser,
// EMA, checkpoint, evaluation) on the CPU backend and on WebGPU for a few steps, with finite losses.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveConfig } from '../../src/training/config.js';
import { pretrain } from '../../src/training/pretrain.js';
import { METHOD_NAMES } from '../../src/methods/method.js';
import { gpuBackendOrSkip } from '../helpers/gpu.js';

for (const [method, device] of METHOD_NAMES.flatMap((m) => [[m, 'cpu'], [m, 'webgpu']] as const)) {
  test(`${method} trains through pretrain() on ${device}`, async () => {
    if (device === 'webgpu' && !(await gpuBackendOrSkip('pretrain loop on webgpu'))) return;
    const out = mkdtempSync(path.join(tmpdir(), `coengine-${method}-`));
    const cfg = resolveConfig([{
      method, arch: 'rf29-resnet10', width: 1 / 16, smallStem: true, device, data: 'synthetic', syntheticTrain: 16,
      syntheticTest: 8, epochs: 1, batchSize: 8, imageSize: 16, projHidden: 16, predHidden: 16, projOut: 8, dinoPrototypes: 16,
      logEvery: 1, finalEval: false, warmupEpochs: 0, localGrid: method === 'co-dino' ? 2 : 0, out,
    }]);
    const logs: Record<string, number>[] = [];
    const s = await pretrain(cfg, { quiet: true, onLog: (r) => logs.push(r) });
    assert.is(s.steps, 2);
    assert.ok(logs.every((r) => Number.isFinite(r.loss)), JSON.stringify(logs));
    if (method.startsWith('co-')) assert.ok(logs.every((r) => Number.isFinite(r.lossLocal)), 'local loss logged');
    const summary = JSON.parse(readFileSync(path.join(out, 'summary.json'), 'utf8'));
    assert.is(summary.method, method);
    if (device === 'webgpu') {
      // The footprint holds at least what was in use at any logged step (the peak is process-wide:
      // an earlier test's trimPool could have shrunk the footprint below it).
      const held = Math.max(...logs.map((r) => r.gpuBytes));
      assert.ok(held > 0 && summary.allocatedGpuBytes >= held, `footprint ${summary.allocatedGpuBytes}, held ${held}`);
    } else {
      assert.is(summary.allocatedGpuBytes, null);
    }
  });
}

test.run();
