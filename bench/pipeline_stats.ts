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

/** The recorded lines (the last for each label), sorted by label; throws naming the line that is not JSON. */
export function readPipelineStats(file: string): PipelineStatsLine[] {
  const byLabel = new Map<string, PipelineStatsLine>();
  readFileSync(file, 'utf8').split('\n').forEach((text, i) => {
    if (!text.trim()) return;
    let line: PipelineStatsLine;
    try { line = JSON.parse(text) as PipelineStatsLine; } catch (e) {
      throw new Error(`${file}:${i + 1}: not a JSON line (${(e as Error).message})`);
    }
    byLabel.set(line.label ?? `(unlabelled ${i + 1})`, line);
  });
  return [...byLabel.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, l]) => l);
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
