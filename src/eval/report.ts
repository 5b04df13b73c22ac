// Tables of `coengine eval` results, one row per evaluated encoder, laid out as the paper's
// Tables 3 and 4 (corruption and masking accuracies; PGD accuracies) plus the linear probes and
// the representation analyses: for comparing runs (e.g. BYOL against CO-BYOL) at a glance.
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { CORRUPTIONS } from './corruptions.js';
import type { EvalRecord } from './evaluate.js';

export interface ReportTable { title: string; columns: string[]; /** Decimals per column. */ digits: number[]; rows: { name: string; cells: (number | null)[] }[] }

/** The records of an eval.jsonl file, or of RUN/eval.jsonl for a run directory. */
export function readEvalRecords(p: string): EvalRecord[] {
  const file = existsSync(p) && statSync(p).isDirectory() ? path.join(p, 'eval.jsonl') : p;
  if (!existsSync(file)) throw new Error(`${file}: no such file (run \`coengine eval\` on the run first)`);
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l, i) => {
    try { return JSON.parse(l) as EvalRecord; } catch (e) { throw new Error(`${file}:${i + 1}: not a JSON line (${(e as Error).message})`); }
  });
}

const SHORT: Record<string, string> = {
  gaussian_noise: 'Gaus.', shot_noise: 'Shot', impulse_noise: 'Imp.', defocus_blur: 'Defoc.', glass_blur: 'Glass', motion_blur: 'Motion', zoom_blur: 'Zoom',
};

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Accuracies in percent, other figures as they are; a missing figure is null. */
export function reportTables(runs: { name: string; records: EvalRecord[] }[]): ReportTable[] {
  const pct = (v: unknown) => (num(v) === null ? null : 100 * (v as number));
  const linear: ReportTable = { title: 'Linear probes (top-1 %)', columns: ['patch', 'global', 'layer3', 'pixels'], digits: [1, 1, 1, 1], rows: [] };
  const robust: ReportTable = { title: 'Corruptions, mean over severities, and internal masking (top-1 %)', columns: [...CORRUPTIONS.map((c) => SHORT[c]), 'Mask'],
    digits: Array(CORRUPTIONS.length + 1).fill(1), rows: [] };
  // PGD columns: the union of the attacks found, in the order first seen.
  const attacks: string[] = [];
  const attackKey = (r: EvalRecord) => {
    if (r.eps === 0) return 'clean';
    const d = (r.eps as number) / (r.step as number); // the step as ε/D where D is whole, as the paper writes it
    const step = Math.abs(d - Math.round(d)) < 1e-6 ? `ε/${Math.round(d)}` : `${+(r.step as number).toPrecision(3)}`;
    return `ε ${r.eps} γ ${step} ×${r.iterations}`;
  };
  for (const { records } of runs) for (const r of records) if (r.analysis === 'pgd' && !attacks.includes(attackKey(r))) attacks.push(attackKey(r));
  const pgd: ReportTable = { title: 'PGD L∞ (top-1 %)', columns: attacks, digits: attacks.map(() => 1), rows: [] };
  const analysis: ReportTable = { title: 'Representations (similarities: cosines; ERF: px)', columns: ['Pearson r', 'global sim', 'local sim', 'intra-local sim', 'ERF √#>5%', 'ERF √#>32%'],
    digits: [3, 3, 3, 3, 1, 1], rows: [] };
  for (const { name, records } of runs) {
    const find = (pred: (r: EvalRecord) => boolean) => records.find(pred);
    const lin = (feature: string) => pct(find((r) => (r.analysis === 'linear' || r.analysis === 'layers') && r.feature === feature)?.testAcc);
    linear.rows.push({ name, cells: [lin('pooled'), lin('global'), lin('layer3'), lin('pixels')] });
    robust.rows.push({ name, cells: [
      ...CORRUPTIONS.map((c) => pct(find((r) => r.analysis === 'corruptions' && r.corruption === c && r.severity === 'mean')?.accuracy)),
      pct(find((r) => r.analysis === 'masking' && r.fraction === 'mean')?.accuracy),
    ] });
    pgd.rows.push({ name, cells: attacks.map((a) => pct(find((r) => r.analysis === 'pgd' && attackKey(r) === a)?.accuracy)) });
    const sim = find((r) => r.analysis === 'similarity'), erf = find((r) => r.analysis === 'erf');
    analysis.rows.push({ name, cells: [num(sim?.pearson), num(sim?.meanGlobalSim), num(sim?.meanLocalSim), num(sim?.intraLocalSim), num(erf?.sqrtAbove5), num(erf?.sqrtAbove32)] });
  }
  // A table none of whose runs has a figure is left out.
  return [linear, robust, pgd, analysis].filter((t) => t.columns.length && t.rows.some((r) => r.cells.some((c) => c !== null)));
}

/** Markdown, one table per section; '–' where a run lacks a figure. */
export function formatReport(tables: ReportTable[]): string {
  return tables.map((t) => {
    const fmt = (v: number | null, k: number) => (v === null ? '–' : v.toFixed(t.digits[k]));
    const lines = [`| run | ${t.columns.join(' | ')} |`, `|---|${t.columns.map(() => '---:').join('|')}|`,
      ...t.rows.map((r) => `| ${r.name} | ${r.cells.map(fmt).join(' | ')} |`)];
    return `### ${t.title}\n\n${lines.join('\n')}\n`;
  }).join('\n');
}
