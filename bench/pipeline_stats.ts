// `coengine bench pipeline-stats FILE`: the statistics `coengine --pipeline-stats FILE` recorded,
// one row per pipeline (its label, then each statistic the driver gave, per executable), sorted by
// label; --only keeps the labels a regular expression matches. Lines for the same label (a
// command run twice into one file) are kept once, the last one.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';

export interface PipelineStatsLine {
  label: string | null;
  executables: { name: string; subgroupSize: number; stats: Record<string, number | boolean | null> }[] | null;
}

/**
 * The recorded lines (the last for each label), sorted by label. A line that is not a statistics
 * record is an error naming it, except a cut-off last line (a run killed mid-write), which is
 * skipped with a warning.
 */
export function readPipelineStats(file: string, warn: (msg: string) => void = (m) => process.stderr.write(`${m}\n`)): PipelineStatsLine[] {
  const byLabel = new Map<string, PipelineStatsLine>();
  const texts = readFileSync(file, 'utf8').split('\n');
  const last = texts.reduce((at, t, i) => (t.trim() ? i : at), -1);
  texts.forEach((text, i) => {
    if (!text.trim()) return;
    let line: unknown;
    try { line = JSON.parse(text); } catch (e) {
      if (i === last && !text.endsWith('}')) { warn(`${file}:${i + 1}: skipped a cut-off last line`); return; }
      throw new Error(`${file}:${i + 1}: not a JSON line (${(e as Error).message})`);
    }
    const record = checkLine(line, `${file}:${i + 1}`);
    byLabel.set(record.label ?? `(unlabelled ${i + 1})`, record);
  });
  return [...byLabel.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, l]) => l);
}

function checkLine(v: unknown, where: string): PipelineStatsLine {
  const bad = (why: string) => new Error(`${where}: not a pipeline statistics record (${why})`);
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad('not an object');
  const l = v as PipelineStatsLine;
  if (l.label !== null && typeof l.label !== 'string') throw bad('label');
  if (l.executables !== null && !Array.isArray(l.executables)) throw bad('executables');
  for (const e of l.executables ?? []) {
    if (!e || typeof e !== 'object' || typeof e.name !== 'string') throw bad('an executable without a name');
    e.stats ??= {};
  }
  return l;
}

/** One text row per pipeline: `label  [executable:] name=value ...`. */
export function formatPipelineStats(lines: PipelineStatsLine[]): string[] {
  return lines.map((l) => {
    const label = l.label ?? '(unlabelled)';
    if (!l.executables) return `${label}  (the driver reports no statistics)`;
    const parts = l.executables.map((e) => {
      const stats = Object.entries(e.stats).map(([k, v]) => `${k}=${v}`).join(', ');
      return l.executables!.length > 1 ? `[${e.name}] ${stats}` : stats;
    });
    return `${label}  ${parts.join('  ')}`;
  });
}

export function registerBenchPipelineStats(bench: Command): void {
  bench
    .command('pipeline-stats <file>')
    .description('Show the driver statistics recorded by `coengine --pipeline-stats FILE <command>`: one row per compute ' +
      'pipeline (kernel file, entry point, GEMM tile, override constants), then what the driver reported for it ' +
      '(e.g. registers per thread), sorted by label')
    .option('--only <regex>', 'only pipelines whose label matches this regular expression (e.g. "matmul.*shared128")')
    .option('--json', 'print the lines (deduplicated, sorted) as JSON lines instead')
    .action((file: string, o: { only?: string; json?: boolean }) => {
      let lines = readPipelineStats(file);
      if (o.only) {
        let re: RegExp;
        try { re = new RegExp(o.only); } catch (e) { throw new Error(`--only: ${(e as Error).message}`); }
        lines = lines.filter((l) => re.test(l.label ?? ''));
      }
      if (o.json) for (const l of lines) console.log(JSON.stringify(l));
      else for (const row of formatPipelineStats(lines)) console.log(row);
    });
}
