// Table 11 (Appendix A.4) from traced graphs, by SPEC §8's convention.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { efficiencyTable, pctDiff, localHeadModule, countMacs } from '../../src/models/index.js';
import { formatFlops } from '../../src/cli/commands/flops.js';

const rows = efficiencyTable({ batch: 64 });
const byName = new Map(rows.map((r) => [r.row, r]));

test('four rows in the paper\'s order, with images per iteration 2 / 6 / 2 / 2', () => {
  assert.equal(rows.map((r) => r.row), ['BYOL R50', 'BYOL-mc R50', 'CO-BYOL R50', 'CO-BYOL RF99-R50']);
  assert.equal(rows.map((r) => r.imagesPerIteration), [2, 6, 2, 2]);
});

test('backbone GFLOPs within 2% of the paper (32.8 / 38.4 / 32.8 / 106)', () => {
  for (const r of rows) {
    const d = pctDiff(r.backboneGFLOPs, r.paperBackboneGFLOPs)!;
    assert.ok(Math.abs(d) < 2, `${r.row}: ${r.backboneGFLOPs.toFixed(2)} vs ${r.paperBackboneGFLOPs} (${d.toFixed(2)}%)`);
  }
  // BYOL = 2 FLOPs × 4.087 GMACs × 2 views × 2 networks
  assert.ok(Math.abs(byName.get('BYOL R50')!.backboneGFLOPs - 8 * 4.0871) < 0.01);
});

test('paper-convention memory within 2% (12 / 36 / 12 / 12.1 GB) and linear in batch', () => {
  for (const r of rows) {
    const d = pctDiff(r.memoryGB, r.paperMemoryGB)!;
    assert.ok(Math.abs(d) < 2, `${r.row}: ${r.memoryGB.toFixed(3)} GB vs ${r.paperMemoryGB} (${d.toFixed(2)}%)`);
  }
  const half = efficiencyTable({ batch: 32 });
  half.forEach((r, i) => assert.ok(Math.abs(r.memoryGB * 2 - rows[i].memoryGB) < 1e-9));
});

test('local heads: 0 for BYOL rows, ≈4.1 / 16.4 G for CO-BYOL (paper 5.6 / 22, ratio 4 kept)', () => {
  assert.is(byName.get('BYOL R50')!.localHeadGFLOPs, 0);
  assert.is(byName.get('BYOL-mc R50')!.localHeadGFLOPs, 0);
  const r50 = byName.get('CO-BYOL R50')!.localHeadGFLOPs, rf = byName.get('CO-BYOL RF99-R50')!.localHeadGFLOPs;
  assert.ok(Math.abs(r50 - 4.11) < 0.01, `R50 local heads ${r50}`);
  assert.ok(Math.abs(rf - 16.44) < 0.01, `RF99 local heads ${rf}`);
  assert.ok(Math.abs(rf / r50 - 196 / 49) < 1e-9);
});

test('local head module: 1×1 conv MACs per position = in·hidden + hidden·out', () => {
  assert.is(countMacs(localHeadModule(2048, 4096, 256), [1, 7, 7, 2048]), 49 * (2048 * 4096 + 4096 * 256));
});

test('the table printer shows ours, the paper\'s and the difference', () => {
  const text = formatFlops(rows, 64);
  assert.match(text, /BYOL R50\s+32\.7 \/ 32\.8 \(-0\.3%\)/);
  assert.match(text, /CO-BYOL RF99-R50\s+105\.4 \/ 106/);
});

test.run();
