// `coengine --pipeline-stats FILE`: the Vulkan layer (bench/vk-stats) builds, sits under Dawn
// without changing results, and writes one JSON line per compute pipeline under its kernel's
// label (file, entry point, GEMM tile, override constants). lavapipe has no
// VK_KHR_pipeline_executable_properties, so here the lines carry "executables": null; on a driver
// with it (NVIDIA) each executable's statistics, whose shape is checked when present.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { gpuBackendOrSkip, inCI } from '../helpers/gpu.js';
import { pipelineStatsLayer } from '../../src/backend/webgpu/pipeline_stats.js';

const main = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

/** Build the layer; null when this machine cannot (no gcc or Vulkan headers), outside CI. */
function buildLayer(): string | null {
  const why = process.platform !== 'linux' ? 'not Linux'
    : !existsSync('/usr/include/vulkan/vk_layer.h') ? 'no Vulkan headers (libvulkan-dev)'
      : spawnSync('gcc', ['--version']).status !== 0 ? 'no gcc' : null;
  if (why) {
    if (inCI()) throw new Error(`pipeline stats: cannot build the layer under CI=true (${why}); run scripts/setup-ci.sh`);
    console.log(`  [skip] pipeline stats: ${why}`);
    return null;
  }
  const { dir, library } = pipelineStatsLayer();
  const r = spawnSync('bash', [path.join(dir, 'build.sh')], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, `bench/vk-stats/build.sh failed:\n${r.stdout}${r.stderr}`);
  assert.ok(existsSync(library), library);
  return library;
}

test('--pipeline-stats writes a labelled line per compute pipeline, and the GEMMs stay right', async () => {
  if (!(await gpuBackendOrSkip('pipeline stats'))) return;
  if (!buildLayer()) return;
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'coengine-vkstats-')), 'stats.jsonl');
  const r = spawnSync(process.execPath, [main, '--pipeline-stats', file, 'bench', 'kernels', '--quick', '--only', 'gemm', '--json'],
    { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, `exit ${r.status}:\n${r.stdout}\n${r.stderr}`);
  // The layer was in the chain: the bench ran on WebGPU and its results are still right.
  const rows = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const gemms = rows.filter((x) => x.kernel === 'gemm');
  assert.ok(gemms.length >= 3, r.stdout);
  for (const g of gemms) assert.ok(g.maxRelErr < 1e-4, JSON.stringify(g));

  assert.ok(existsSync(file), `no statistics file; stderr:\n${r.stderr}`);
  const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const gemmLines = lines.filter((l) => /^kernels\/matmul\.wgsl:main \S+ \{.*\bA_K_CONTIG=[01]\b.*\}$/.test(l.label ?? ''));
  assert.ok(gemmLines.length >= 1, `no matmul pipeline with its tile and constants among:\n${lines.map((l) => l.label).join('\n')}`);
  for (const l of lines) {
    assert.ok('executables' in l, JSON.stringify(l));
    if (l.executables === null) continue; // a driver without VK_KHR_pipeline_executable_properties
    assert.ok(Array.isArray(l.executables) && l.executables.length >= 1, JSON.stringify(l));
    for (const e of l.executables) {
      assert.type(e.name, 'string');
      assert.type(e.stats, 'object');
      for (const v of Object.values(e.stats)) assert.ok(['number', 'boolean'].includes(typeof v), JSON.stringify(e));
    }
  }
});

test.run();
