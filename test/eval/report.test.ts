// `coengine report`: eval records of several runs laid out as the paper's tables.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { formatReport, readEvalRecords, reportTables } from '../../src/eval/report.js';
import type { EvalRecord } from '../../src/eval/evaluate.js';

const A: EvalRecord[] = [
  { analysis: 'setup', encoder: 'a' },
  { analysis: 'linear', feature: 'pooled', testAcc: 0.5 },
  { analysis: 'linear', feature: 'global', testAcc: 0.625 },
  { analysis: 'corruptions', corruption: 'shot_noise', severity: 1, accuracy: 0.9 },
  { analysis: 'corruptions', corruption: 'shot_noise', severity: 'mean', accuracy: 0.4 },
  { analysis: 'masking', fraction: 0.9, accuracy: 0.1 },
  { analysis: 'masking', fraction: 'mean', accuracy: 0.3 },
  { analysis: 'pgd', eps: 0, step: 0, iterations: 0, accuracy: 0.6 },
  { analysis: 'pgd', eps: 0.01, step: 0.01 / 40, iterations: 5, accuracy: 0.2 },
  { analysis: 'similarity', pearson: 0.91234, meanGlobalSim: 0.5, meanLocalSim: 0.4, intraLocalSim: 0.7 },
];
const B: EvalRecord[] = [
  { analysis: 'linear', feature: 'pooled', testAcc: 0.25 },
  { analysis: 'layers', layer: 'layer3', feature: 'layer3', testAcc: 0.125 },
  { analysis: 'pgd', eps: 0.003, step: 0.0007, iterations: 1, accuracy: 0.05 },
];

test('runs side by side: figures in percent, the union of attacks, a dash where a run lacks one', () => {
  const tables = reportTables([{ name: 'co-byol', records: A }, { name: 'byol', records: B }]);
  assert.equal(tables.map((t) => t.title.split(' ')[0]), ['Linear', 'Corruptions,', 'PGD', 'Representations']);
  const [lin, rob, pgd, rep] = tables;
  assert.equal(lin.rows.map((r) => r.cells), [[50, 62.5, null, null], [25, null, 12.5, null]]);
  assert.is(rob.rows[0].cells[1], 40); // the mean over severities, not severity 1
  assert.is(rob.rows[0].cells[rob.columns.indexOf('Mask')], 30);
  assert.equal(pgd.columns, ['clean', 'ε 0.01 γ ε/40 ×5', 'ε 0.003 γ 0.0007 ×1']);
  assert.equal(pgd.rows[1].cells, [null, null, 5]);
  assert.is(rep.rows[1].cells.every((c) => c === null), true);
  const md = formatReport(tables);
  assert.match(md, /\| co-byol \| 50\.0 \| 62\.5 \| – \| – \|/);
  assert.match(md, /\| co-byol \| 0\.912 \| 0\.500 \| 0\.400 \| 0\.700 \| – \| – \|/);
  // A section no run has is left out.
  assert.equal(reportTables([{ name: 'b', records: B }]).map((t) => t.title.split(' ')[0]), ['Linear', 'PGD']);
});

test('reading eval.jsonl: a run directory or a file; clear errors for a missing file or a bad line', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'coengine-report-'));
  writeFileSync(path.join(dir, 'eval.jsonl'), A.map((r) => JSON.stringify(r)).join('\n') + '\n');
  assert.is(readEvalRecords(dir).length, A.length);
  assert.is(readEvalRecords(path.join(dir, 'eval.jsonl')).length, A.length);
  assert.throws(() => readEvalRecords(path.join(dir, 'none')), /no such file \(run `coengine eval` on the run first\)/);
  const bad = path.join(dir, 'bad.jsonl');
  writeFileSync(bad, '{"analysis":"linear"}\n{oops\n');
  assert.throws(() => readEvalRecords(bad), /bad\.jsonl:2: not a JSON line/);
});

test('coengine report: Markdown on stdout, names from the directories or --names', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'coengine-report-'));
  for (const [name, recs] of [['run-a', A], ['run-b', B]] as const) {
    mkdirSync(path.join(root, name));
    writeFileSync(path.join(root, name, 'eval.jsonl'), recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
  }
  const main = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
  const cli = (args: string[]) => spawnSync(process.execPath, [main, 'report', ...args], { encoding: 'utf8', timeout: 60_000 });
  let r = cli([path.join(root, 'run-a'), path.join(root, 'run-b') + '/']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /\| run-a \| 50\.0/);
  assert.match(r.stdout, /\| run-b \| 25\.0/);
  r = cli([path.join(root, 'run-a'), '--names', 'x,y']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /--names: 2 names for 1 runs/);
});

test.run();
