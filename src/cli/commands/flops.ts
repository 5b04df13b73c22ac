// `coengine flops`: the paper's Table 11 (Appendix A.4) recomputed from traced module graphs,
// beside the paper's figures, by SPEC §8's convention.
import type { Command } from 'commander';
import { efficiencyTable, pctDiff, type EfficiencyRow } from '../../models/efficiency.js';
import { positiveInteger } from '../options.js';


function cell(ours: number, paper: number, digits: number): string {
  const d = pctDiff(ours, paper);
  const pct = d === null ? 'n/a' : `${d >= 0 ? '+' : ''}${d.toFixed(1)}%`;
  return `${ours.toFixed(digits)} / ${paper} (${pct})`;
}

export function formatFlops(rows: EfficiencyRow[], batch: number): string {
  const head = ['row', 'backbone GFLOPs', 'local-head GFLOPs', `memory GB (batch ${batch})`, 'images/iter'];
  const body = rows.map((r) => [r.row, cell(r.backboneGFLOPs, r.paperBackboneGFLOPs, 1), cell(r.localHeadGFLOPs, r.paperLocalHeadGFLOPs, 1),
    cell(r.memoryGB, r.paperMemoryGB, 2), String(r.imagesPerIteration)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i])).join('  ');
  return [
    'Table 11 per input image, ours / paper (difference). Backbone FLOPs = 2 × MACs × 2 views × 2 networks;',
    'BYOL-mc adds 4 × 96-px crops through the online network; local heads = g² (online, target) + q² on every',
    'position; memory = parameters × images per iteration × batch × 4 B (paper: batch 64).',
    '',
    line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line), '',
    'Local heads: this convention gives ≈4.1 / 16.4 G against the paper\'s 5.6 / 22; the ratio (×4 for 196 vs 49',
    'positions) matches, the absolute gap is unexplained by the paper and left as is.',
  ].join('\n');
}

export function registerFlops(program: Command): void {
  program
    .command('flops')
    .description('Reproduce the paper\'s efficiency table (Table 11): backbone and local-head FLOPs, memory, images per iteration')
    .option('--batch <n>', 'batch size for the paper-convention memory column', positiveInteger, 64)
    .option('--json', 'print JSON rows instead of the table', false)
    .action((o: { batch: number; json: boolean }) => {
      const rows = efficiencyTable({ batch: o.batch });
      process.stdout.write(o.json ? `${JSON.stringify(rows)}\n` : `${formatFlops(rows, o.batch)}\n`);
    });
}
