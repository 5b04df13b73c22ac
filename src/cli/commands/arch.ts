// `coengine arch NAME`: layer table, parameters, receptive field, local map and forward MACs of
// a named backbone, from its traced module tree (weights are not initialised: counting only).
import type { Command } from 'commander';
import { createBackbone, presetNames } from '../../models/presets.js';
import { summarize, type ArchSummary } from '../../models/analyze.js';
import { positiveInteger, positiveNumber } from '../options.js';


export interface ArchJson {
  name: string;
  input: number;
  rf: number;
  localMap: [number, number];
  params: number;
  macs: number;
  featureDim: number;
}

export function archJson(name: string, s: ArchSummary): ArchJson {
  return { name, input: s.input, rf: s.rf, localMap: s.localMap, params: s.params, macs: s.macs, featureDim: s.featureDim };
}

function fmtInt(n: number): string { return n.toLocaleString('en-US'); }

export function formatArch(name: string, s: ArchSummary, all: boolean): string {
  // RF '-': a shortcut branch, or after global pooling (no longer a local quantity).
  const rows = s.rows.filter((r) => all || r.op !== 'batchnorm');
  const head = ['layer', 'op', 'k/s/p', 'output (NHWC)', 'RF', 'MMACs', 'params'];
  const body = rows.map((r) => [
    r.name, r.op,
    r.kernel !== undefined ? `${r.kernel}/${r.stride}/${r.padding}` : '',
    `[${r.outShape.join(',')}]`,
    r.rf === null ? '-' : String(r.rf),
    (r.macs / 1e6).toFixed(2),
    fmtInt(r.params),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (c: string[]) => c.map((x, i) => (i >= 4 ? x.padStart(widths[i]) : x.padEnd(widths[i]))).join('  ');
  return [
    line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line), '',
    `${name} @ ${s.input}×${s.input}`,
    `  parameters        ${fmtInt(s.params)} (${(s.params / 1e6).toFixed(2)}M, BN affine included)`,
    `  receptive field   ${s.rf} px (Appendix B.1 formula, local representations)`,
    `  local map         ${s.localMap[0]}×${s.localMap[1]} (stride ${s.jump}), ${s.localMap[0] * s.localMap[1]} positions × ${s.featureDim}`,
    `  forward MACs      ${(s.macs / 1e9).toFixed(3)} G per image (convs + linears)`,
    `  feature dim       ${s.featureDim}`,
  ].join('\n');
}

export function registerArch(program: Command): void {
  program
    .command('arch')
    .description('Show a backbone\'s layers, parameter count, receptive field, local map size and forward MACs')
    .argument('<name>', `backbone preset: ${presetNames().join(', ')}`)
    .option('--input <n>', 'input image side in pixels', positiveInteger, 224)
    .option('--width <w>', 'channel width multiplier', positiveNumber, 1)
    .option('--small-stem', 'use the small-image stem (3×3 stride-1 conv, no max-pool)', false)
    .option('--bn', 'count batch norm in MACs (one per element) and list BN layers', false)
    .option('--json', 'print a JSON summary instead of the table', false)
    .action((name: string, o: { input: number; width: number; smallStem: boolean; bn: boolean; json: boolean }) => {
      const model = createBackbone(name, { width: o.width, smallStem: o.smallStem, init: 'zeros' });
      const s = summarize(model, o.input, { countBatchNorm: o.bn });
      process.stdout.write(o.json ? `${JSON.stringify(archJson(name, s))}\n` : `${formatArch(name, s, o.bn)}\n`);
    });
}
