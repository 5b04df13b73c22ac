#!/usr/bin/env node
// Summarises what scripts/device-measure.sh left in its output folder, for the decisions
// bench/RESULTS.md lists: GEMM 4096³ by tile (with each tile's registers per thread from the
// driver's pipeline statistics), the per-layer rows under 60% of the GEMM rate, each profiled
// step's GEMM time and the rows that differ most from the first profile, the stem's weight
// gradient in every profile, and each timed step's speed and memory.
// Usage: node scripts/device-summary.mjs DIR   (DIR: the run's $OUT, e.g. /work/.device/...)
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir || !existsSync(dir)) {
  process.stderr.write('usage: node scripts/device-summary.mjs DIR (the folder device-measure.sh wrote)\n');
  process.exit(1);
}

/** JSON lines of a file of the run (missing file: none; lines that are not JSON: skipped). */
function lines(name) {
  const f = join(dir, name);
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8').split('\n').filter((l) => l.startsWith('{')).flatMap((l) => {
    try { return [JSON.parse(l)]; } catch { return []; }
  });
}
const fmt = (x, d = 1) => (x === undefined || x === null || Number.isNaN(x) ? '—' : Number(x).toFixed(d));
const section = (title) => console.log(`\n## ${title}`);

if (existsSync(join(dir, 'timeline.txt'))) { section('timeline'); console.log(readFileSync(join(dir, 'timeline.txt'), 'utf8').trim()); }
if (existsSync(join(dir, 'parity.txt'))) {
  section('parity');
  console.log(readFileSync(join(dir, 'parity.txt'), 'utf8').split('\n').filter((l) => /Total|Passed|Skipped|FAIL/.test(l)).join('\n'));
}

// Registers (or whatever the driver reports) per GEMM tile, from the pipeline statistics: the
// plain AB matmul pipeline of each tile (TRANS_A=0 TRANS_B=0, no epilogue), as the sweep runs it.
const statsByTile = new Map();
for (const l of lines('pipeline_stats.jsonl')) {
  const m = /^kernels\/matmul\.wgsl:main (\S+) \{(.*)\}$/.exec(l.label ?? '');
  if (!m || !/TRANS_A=0 TRANS_B=0/.test(m[2]) || /HAS_BIAS=1|HAS_RESIDUAL=1|RELU=1/.test(m[2])) continue;
  const e = l.executables?.[0];
  if (e) statsByTile.set(m[1], e.stats);
}
const statText = (s) => (s ? Object.entries(s).map(([k, v]) => `${k}=${v}`).join(', ') : '');

const sweep = lines('sweep.jsonl').filter((r) => r.kernel?.startsWith('gemm['));
if (sweep.length) {
  section('GEMM sweep (TFLOP/s; driver statistics of the tile\'s AB pipeline)');
  for (const r of sweep.sort((a, b) => b.gflops - a.gflops)) {
    const tile = r.kernel.slice(5, -1);
    console.log(`${tile.padEnd(20)} ${r.shape.padEnd(18)} ${fmt(r.gflops / 1000).padStart(6)}  ${statText(statsByTile.get(tile))}`);
  }
}
if (statsByTile.size && !sweep.length) {
  section('driver statistics by GEMM tile (AB pipelines)');
  for (const [t, s] of statsByTile) console.log(`${t.padEnd(20)} ${statText(s)}`);
}

const layers = lines('layers.jsonl');
if (layers.length) {
  section('per-layer target (bench kernels --layers): rows under 60% of GEMM 4096³');
  const under = layers.filter((r) => typeof r.ofGemm === 'number' && r.ofGemm < 0.6 && r.kernel !== 'gemm');
  for (const r of under) console.log(`${(r.run ?? '').padEnd(14)} ${r.kernel} ${r.shape}: ${fmt(r.gflops / 1000)} TFLOP/s, ${fmt(100 * r.ofGemm, 0)}%`);
  console.log(`${under.length} of ${layers.filter((r) => r.kernel !== 'gemm').length} rows under 60%`);
}

const profiles = lines('step_profile.jsonl').filter((p) => p.result?.profile);
if (profiles.length) {
  section('profiled steps: GEMM ms (rows with a FLOP count), all ms, and the stem\'s weight gradient');
  const gemmMs = (p) => p.result.profile.filter((r) => r.flops > 0).reduce((a, r) => a + r.ms, 0);
  const allMs = (p) => p.result.profile.reduce((a, r) => a + r.ms, 0);
  for (const p of profiles) {
    const stem = p.result.profile.filter((r) => /space-to-depth|conv2d dw \[\d+, \d+, \d+, 3\]/.test(r.name));
    const stemText = stem.map((r) => `${r.name.replace(/ @.*/, '')} ${fmt(r.ms, 2)} ms${r.flops ? ` ${fmt(r.flops / r.ms / 1e9)} TFLOP/s` : ''}${r.ofGemm ? ` (${fmt(100 * r.ofGemm, 0)}% of GEMM)` : ''}`).join('; ');
    console.log(`${p.build.padEnd(70)} GEMMs ${fmt(gemmMs(p))} ms, all ${fmt(allMs(p))} ms\n    stem dW: ${stemText || '—'}`);
  }
  const [base, ...others] = profiles;
  const byName = (p) => new Map(p.result.profile.map((r) => [r.name.replace(/ @\S+$/, '').replace(/ \+norm$/, '').replace(/ ×\d+ splits/, ''), r]));
  const b = byName(base);
  for (const p of others) {
    const o = byName(p);
    const diffs = [...o.entries()].filter(([k]) => b.has(k)).map(([k, r]) => [k, r.ms - b.get(k).ms]).sort((x, y) => Math.abs(y[1]) - Math.abs(x[1])).slice(0, 5);
    console.log(`\n${p.build} against ${base.build}: largest row changes (ms)`);
    for (const [k, d] of diffs) console.log(`  ${d > 0 ? '+' : ''}${fmt(d, 2).padStart(7)}  ${k}`);
  }
}

const steps = lines('step.jsonl').filter((s) => s.result);
if (steps.length) {
  section('timed steps');
  for (const s of steps) {
    const r = s.result;
    console.log(`${s.build.padEnd(70)} ${fmt(r.msPerStep)} ms/step (back to back ${fmt(r.pipelinedMsPerStep)}), ` +
      `encoding ${fmt(100 * (r.encodeFraction ?? NaN))}%, allocated ${fmt(r.allocatedBytes / 1e9, 2)} GB, peak ${fmt(r.peakBytes / 1e9, 2)} GB` +
      (r.memoryPlan?.built ? `, memory plan ${fmt(r.memoryPlan.arenaBytes / 1e9, 2)} GB (least ${fmt(r.memoryPlan.lowerBound / 1e9, 2)}; ` +
        `built ${r.memoryPlan.built}, planned ${r.memoryPlan.planned}, diverged ${r.memoryPlan.diverged})` : '') +
      `${r.tuning ? `, tuned ${JSON.stringify(r.tuning).slice(0, 120)}` : ''}`);
    // bench step --memory-peak: what the step holds at its peak, by where it was allocated
    if (r.memoryPeak) {
      console.log(`  at the peak, ${fmt(r.memoryPeak.peakBytes / 1e9, 2)} GB live:`);
      for (const g of r.memoryPeak.groups.slice(0, 12)) console.log(`    ${fmt(g.bytes / 1e9, 2).padStart(7)} GB ${String(g.count).padStart(4)}×  ${g.origin}`);
    }
  }
}
const torch = lines('torch.jsonl');
if (torch.length) { section('PyTorch'); for (const t of torch) console.log(JSON.stringify(t)); }
