// `coengine --pipeline-stats FILE`: the Vulkan layer (bench/vk-stats) builds, sits under Dawn
// without changing results, and writes one JSON line per compute pipeline under its kernel's
// label (file, entry point, GEMM tile, override constants). lavapipe has no
// VK_KHR_pipeline_executable_properties, so there the lines carry "executables": null; a driver
// that has it (NVIDIA) is played by a mock layer below ours (test/fixtures/vk-mock-executables),
// whose fixed statistics (every format, NaN too) and representations (text and binary) must come
// through exactly.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { gpuBackendOrSkip, inCI } from '../helpers/gpu.js';
import { pipelineStatsLayer } from '../../src/backend/webgpu/pipeline_stats.js';
import { formatPipelineStats, readPipelineStats } from '../../bench/pipeline_stats.js';

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

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/vk-mock-executables');

function buildMock(): void {
  const r = spawnSync('bash', [path.join(pipelineStatsLayer().dir, 'build.sh'), path.join(fixture, 'mock_executables_layer.c'),
    path.join(fixture, 'build', 'libVkLayer_coengine_mock_executables.so')], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, `building the mock layer failed:\n${r.stdout}${r.stderr}`);
}

/** Run `bench kernels --quick --only gemm --json` with --pipeline-stats; its GEMM rows (checked) and statistics lines. */
function statsRun(env: Record<string, string> = {}): { lines: any[]; stderr: string; file: string } {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'coengine-vkstats-')), 'stats.jsonl');
  const r = spawnSync(process.execPath, [main, '--pipeline-stats', file, 'bench', 'kernels', '--quick', '--only', 'gemm', '--json'],
    { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } });
  assert.is(r.status, 0, `exit ${r.status}:\n${r.stdout}\n${r.stderr}`);
  // The layers were in the chain: the bench ran on WebGPU and its results are still right.
  const rows = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const gemms = rows.filter((x) => x.kernel === 'gemm');
  assert.ok(gemms.length >= 3, r.stdout);
  for (const g of gemms) assert.ok(g.maxRelErr < 1e-4, JSON.stringify(g));
  assert.ok(existsSync(file), `no statistics file; stderr:\n${r.stderr}`);
  return { lines: readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l)), stderr: r.stderr, file };
}

/** The lines of matmul pipelines, labelled with their tile and override constants (at least one). */
function gemmLines(lines: any[]): any[] {
  const found = lines.filter((l) => /^kernels\/matmul\.wgsl:main \S+ \{.*\bA_K_CONTIG=[01]\b.*\}$/.test(l.label ?? ''));
  assert.ok(found.length >= 1, `no matmul pipeline with its tile and constants among:\n${lines.map((l) => l.label).join('\n')}`);
  return found;
}

test('--pipeline-stats writes a labelled line per compute pipeline, and the GEMMs stay right', async () => {
  if (!(await gpuBackendOrSkip('pipeline stats'))) return;
  if (!buildLayer()) return;
  const { lines } = statsRun();
  // The three products (AB, ABᵀ, AᵀB) differ only in override constants, which Dawn would
  // compile from one shared module under the first one's label.
  const gemms = gemmLines(lines);
  assert.ok(gemms.length >= 3, gemms.map((l) => l.label).join('\n'));
  const labels = lines.map((l) => l.label);
  assert.is(new Set(labels).size, labels.length, `a label names two pipelines:\n${labels.join('\n')}`);
  for (const l of lines) {
    assert.ok('executables' in l, JSON.stringify(l));
    if (l.executables === null) continue; // a driver without VK_KHR_pipeline_executable_properties
    assert.ok(Array.isArray(l.executables) && l.executables.length >= 1, JSON.stringify(l));
    for (const e of l.executables) {
      assert.type(e.name, 'string');
      assert.type(e.stats, 'object');
      for (const v of Object.values(e.stats)) assert.ok(v === null || ['number', 'boolean'].includes(typeof v), JSON.stringify(e));
    }
  }
});

test('a driver with the extension: every statistic format, each executable and the text representation come through', async () => {
  if (!(await gpuBackendOrSkip('pipeline stats'))) return;
  if (!buildLayer()) return;
  buildMock();
  // Ours is listed first (next to the application), the mock after it: below, where a driver is.
  const { lines, stderr, file } = statsRun({
    VK_LAYER_PATH: fixture, VK_INSTANCE_LAYERS: 'VK_LAYER_COENGINE_mock_executables', COENGINE_VK_STATS_IR: '1',
  });
  assert.not.match(stderr, 'lacks VK_KHR_pipeline_executable_properties');
  for (const l of [...gemmLines(lines), ...lines]) {
    assert.equal(l.executables, [0, 1].map((i) => ({
      name: i ? 'mock "second"' : 'mock compute',
      subgroupSize: 32,
      stats: { 'Register Count': 96 + i, Offset: -3, Ratio: 0.5, Spills: false, Undefined: null }, // (NaN: JSON has none)
      ir: [{ name: 'mock IR', text: 'line 1\n\t"quoted" \\ end' }, { name: 'mock binary', text: null }],
    })), l.label);
  }
  // `bench pipeline-stats FILE --only REGEX`: one row per matmul pipeline with what the driver said.
  const r = spawnSync(process.execPath, [main, 'bench', 'pipeline-stats', file, '--only', '^kernels/matmul'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.status, 0, r.stderr);
  const rows = r.stdout.trim().split('\n');
  assert.is(rows.length, gemmLines(lines).length, r.stdout);
  for (const row of rows) {
    assert.match(row, /^kernels\/matmul\.wgsl:main \S+ \{[^}]*\}  \[mock compute\] Register Count=96, Offset=-3, Ratio=0\.5, Spills=false, Undefined=null  \[mock "second"\] Register Count=97/);
  }
});

test('bench pipeline-stats reads what a killed run leaves, and names a line that is no record', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'coengine-vkstats-read-'));
  const ok = '{"label":"kernels/b.wgsl:main","executables":[{"name":"x","subgroupSize":32,"stats":{"Registers":40}}]}';
  const noStats = '{"label":"kernels/a.wgsl:main","executables":[{"name":"x","subgroupSize":32}]}';
  const file = path.join(dir, 'cut.jsonl');
  writeFileSync(file, `${ok}\n${noStats}\n{"label":"kernels/c.wgsl:main","execu`);
  const warnings: string[] = [];
  const lines = readPipelineStats(file, (m) => warnings.push(m));
  assert.equal(lines.map((l) => l.label), ['kernels/a.wgsl:main', 'kernels/b.wgsl:main']);
  assert.equal(formatPipelineStats(lines), ['kernels/a.wgsl:main  ', 'kernels/b.wgsl:main  Registers=40']);
  assert.match(warnings.join(), /cut\.jsonl:3: skipped a cut-off last line/);
  for (const [text, why] of [['null', /:1: not a pipeline statistics record \(not an object\)/], [`{bad\n${ok}`, /:1: not a JSON line/],
    ['{"label":3,"executables":null}', /\(label\)/], ['{"label":"l","executables":[{}]}', /without a name/]] as const) {
    writeFileSync(file, text);
    assert.throws(() => readPipelineStats(file), (e: Error) => why.test(e.message), text);
  }
});

test.run();
