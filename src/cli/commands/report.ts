// `coengine report RUN...`: the `coengine eval` results of several runs side by side, as the
// paper's tables (Markdown on stdout).
import type { Command } from 'commander';

export function registerReport(program: Command): void {
  program.command('report')
    .description('Tables of `coengine eval` results, one row per run, for comparing encoders: linear probes (patch, global, layer3, ' +
      'raw pixels), corruption accuracies averaged over severities and internal masking (as the paper\'s Table 3), PGD ' +
      'accuracies per attack (Table 4), local/global similarity and effective receptive fields. Markdown on stdout.')
    .argument('<runs...>', 'run directories (their eval.jsonl) or eval .jsonl files (e.g. RUN/eval-random-init.jsonl)')
    .option('--names <list>', 'comma-separated row names (default: the run directories\' names)')
    .option('--json', 'print the tables as JSON instead')
    .action(async (runs: string[], o: { names?: string; json?: boolean }) => {
      const path = await import('node:path');
      const { readEvalRecords, reportTables, formatReport } = await import('../../eval/report.js');
      const names = o.names ? o.names.split(',').map((s) => s.trim()) : null;
      if (names && names.length !== runs.length) throw new Error(`--names: ${names.length} names for ${runs.length} runs`);
      const tables = reportTables(runs.map((r, i) => {
        const base = path.basename(r.replace(/[/\\]+$/, ''));
        const name = names?.[i] ?? (base.endsWith('.jsonl') ? `${path.basename(path.dirname(path.resolve(r)))}/${base.replace(/\.jsonl$/, '')}` : base);
        return { name, records: readEvalRecords(r) };
      }));
      process.stdout.write(o.json ? JSON.stringify(tables, null, 2) + '\n' : formatReport(tables));
    });
}
