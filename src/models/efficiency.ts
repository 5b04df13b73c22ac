// Appendix A.4 / Table 11 by SPEC §8's convention, per input image, from traced module graphs:
// backbone FLOPs = 2 × forward MACs × 2 views × 2 networks (online + target); multi-crop adds
// 4 small crops through the online network only; local-head FLOPs = 2 × MACs of (g²_θ + q²_θ
// + g²_ξ) on every local position × 2 views; "memory" = parameters × images per iteration ×
// 4 bytes (the paper's theoretical figure, decimal GB).
import { Conv2d, BatchNorm2d, ReLU, Sequential } from '../nn/layers.js';
import { createBackbone } from './presets.js';
import { countMacs, summarize } from './analyze.js';
import { ZeroRng } from './zero_rng.js';

export interface EfficiencyRow {
  row: string;
  backboneGFLOPs: number;
  paperBackboneGFLOPs: number;
  localHeadGFLOPs: number;
  paperLocalHeadGFLOPs: number;
  memoryGB: number;
  /** The paper's figures are for batch 64. */
  paperMemoryGB: number;
  imagesPerIteration: number;
}

export interface EfficiencyOptions {
  batch?: number;
  /** Large views (224 px) and small multi-crop views (96 px, online network only). */
  input?: number;
  smallCrop?: number;
  smallCrops?: number;
  /** Local heads: hidden width and output width (one hidden layer, as in Table 11). */
  hidden?: number;
  out?: number;
}

/** A local head as 1×1 convs: in → hidden → BN → ReLU → out (all positions in parallel). */
export function localHeadModule(inC: number, hidden: number, out: number): Sequential {
  const lo = { rng: new ZeroRng() };
  return new Sequential(new Conv2d(inC, hidden, 1, { ...lo, bias: true }), new BatchNorm2d(hidden, lo), new ReLU(),
    new Conv2d(hidden, out, 1, { ...lo, bias: true }));
}

const PAPER = {
  'BYOL R50': { backbone: 32.8, head: 0, memory: 12 },
  'BYOL-mc R50': { backbone: 38.4, head: 0, memory: 36 },
  'CO-BYOL R50': { backbone: 32.8, head: 5.6, memory: 12 },
  'CO-BYOL RF99-R50': { backbone: 106, head: 22, memory: 12.1 },
} as const;

export function efficiencyTable(o: EfficiencyOptions = {}): EfficiencyRow[] {
  const batch = o.batch ?? 64, input = o.input ?? 224, small = o.smallCrop ?? 96, nSmall = o.smallCrops ?? 4;
  const hidden = o.hidden ?? 4096, outDim = o.out ?? 256;
  const views = 2, networks = 2;
  const r50 = createBackbone('resnet50', { init: 'zeros' });
  const rf99 = createBackbone('rf99-resnet50', { init: 'zeros' });
  const r50s = summarize(r50, input), rf99s = summarize(rf99, input);
  const r50small = summarize(r50, small);

  const headMacs = (featureDim: number, map: [number, number]): number => {
    const shape = [1, map[0], map[1], featureDim];
    const g = countMacs(localHeadModule(featureDim, hidden, outDim), shape);
    const q = countMacs(localHeadModule(outDim, hidden, outDim), [1, map[0], map[1], outDim]);
    return g + q + g; // online projector + online predictor + target projector
  };
  const G = 1e9;
  const row = (name: keyof typeof PAPER, backboneMacs: number, localMacs: number, params: number, images: number): EfficiencyRow => ({
    row: name,
    backboneGFLOPs: (2 * backboneMacs) / G,
    paperBackboneGFLOPs: PAPER[name].backbone,
    localHeadGFLOPs: (2 * localMacs * views) / G,
    paperLocalHeadGFLOPs: PAPER[name].head,
    memoryGB: (params * batch * images * 4) / G,
    paperMemoryGB: PAPER[name].memory,
    imagesPerIteration: images,
  });
  const byol = r50s.macs * views * networks;
  return [
    row('BYOL R50', byol, 0, r50s.params, views),
    row('BYOL-mc R50', byol + r50small.macs * nSmall, 0, r50s.params, views + nSmall),
    row('CO-BYOL R50', byol, headMacs(r50s.featureDim, r50s.localMap), r50s.params, views),
    row('CO-BYOL RF99-R50', rf99s.macs * views * networks, headMacs(rf99s.featureDim, rf99s.localMap), rf99s.params, views),
  ];
}

/** Signed difference of ours from the paper's, in percent (null when the paper's is 0). */
export function pctDiff(ours: number, paper: number): number | null {
  return paper === 0 ? (ours === 0 ? 0 : null) : ((ours - paper) / paper) * 100;
}
