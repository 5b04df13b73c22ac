// `coengine plot RUN_DIR`: SVG curves of a run's metrics.jsonl (losses, probe accuracy).
import { Command } from 'commander';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

interface Series { name: string; points: [number, number][] }

/** A minimal line chart: axes with min/max labels, one polyline per series, a legend. */
export function lineChart(title: string, xLabel: string, series: Series[], w = 640, h = 360): string {
  const pad = { l: 60, r: 150, t: 30, b: 40 };
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const [x0, x1] = pts.length ? [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))] : [0, 1];
  let [y0, y1] = pts.length ? [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))] : [0, 1];
  if (y0 === y1) { y0 -= 0.5; y1 += 0.5; }
  const sx = (x: number) => pad.l + ((x - x0) / Math.max(1e-12, x1 - x0)) * (w - pad.l - pad.r);
  const sy = (y: number) => h - pad.b - ((y - y0) / (y1 - y0)) * (h - pad.t - pad.b);
  const colors = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2'];
  const esc = (s: string) => s.replace(/[<&>]/g, (c) => ({ '<': '&lt;', '&': '&amp;', '>': '&gt;' })[c]!);
  const lines = series.map((s, i) => {
    const d = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
    return `<polyline fill="none" stroke="${colors[i % colors.length]}" stroke-width="1.5" points="${d}"/>` +
      `<text x="${w - pad.r + 10}" y="${pad.t + 16 * i + 10}" font-size="12" fill="${colors[i % colors.length]}">${esc(s.name)}</text>`;
  }).join('\n');
  const fmt = (v: number) => (Math.abs(v) >= 100 || v === 0 ? v.toFixed(0) : v.toPrecision(3));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="${pad.l}" y="18" font-size="14">${esc(title)}</text>
<line x1="${pad.l}" y1="${h - pad.b}" x2="${w - pad.r}" y2="${h - pad.b}" stroke="black"/>
<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${h - pad.b}" stroke="black"/>
<text x="${pad.l}" y="${h - pad.b + 16}" font-size="11">${fmt(x0)}</text>
<text x="${w - pad.r}" y="${h - pad.b + 16}" font-size="11" text-anchor="end">${fmt(x1)}</text>
<text x="${(pad.l + w - pad.r) / 2}" y="${h - 8}" font-size="12" text-anchor="middle">${esc(xLabel)}</text>
<text x="${pad.l - 6}" y="${sy(y1) + 4}" font-size="11" text-anchor="end">${fmt(y1)}</text>
<text x="${pad.l - 6}" y="${sy(y0) + 4}" font-size="11" text-anchor="end">${fmt(y0)}</text>
${lines}
</svg>
`;
}

export function plotRun(dir: string): string[] {
  const file = path.join(dir, 'metrics.jsonl');
  if (!existsSync(file)) throw new Error(`${file} does not exist: is ${dir} a pretraining run directory?`);
  const recs = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l, i) => {
    try { return JSON.parse(l) as Record<string, unknown>; } catch { throw new Error(`${file}:${i + 1}: not JSON`); }
  });
  const steps = recs.filter((r) => r.type === 'step');
  const epochs = recs.filter((r) => r.type === 'epoch');
  const series = (rs: Record<string, unknown>[], x: string, keys: string[]): Series[] => keys
    .filter((k) => rs.some((r) => typeof r[k] === 'number'))
    .map((k) => ({ name: k, points: rs.filter((r) => typeof r[k] === 'number').map((r) => [r[x] as number, r[k] as number] as [number, number]) }));
  const out: string[] = [];
  const write = (name: string, svg: string) => { const f = path.join(dir, name); writeFileSync(f, svg); out.push(f); };
  write('loss.svg', lineChart('training loss', 'step', series(steps, 'step', ['loss', 'lossGlobal', 'lossLocal'])));
  write('probe.svg', lineChart('online linear probe accuracy', 'step',
    [...series(steps, 'step', ['globalProbeAcc', 'patchProbeAcc']).map((s) => ({ ...s, name: `${s.name} (train batch)` })),
      ...series(epochs, 'step', ['onlineProbeAcc', 'patchProbeAcc']).map((s) => ({ ...s, name: `${s.name} (test)` }))]));
  return out;
}

export function registerPlot(program: Command): void {
  program.command('plot')
    .description('Write SVG curves (loss.svg, probe.svg) of a pretraining run from its metrics.jsonl')
    .argument('<run-dir>', 'run directory written by `coengine pretrain --out`')
    .action((dir: string) => { for (const f of plotRun(dir)) process.stdout.write(`${f}\n`); });
}
