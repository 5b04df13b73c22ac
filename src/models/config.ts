// Backbone configurations: one description covers torchvision ResNets, the RF-ResNet family
// (SPEC §4) and BagNet. Presets live in presets.ts; this file only says what a config means.
export type StemKind = '7x7' | '3x3' | 'bagnet';
export type BlockKind = 'basic' | 'bottleneck';
/**
 * Which convolutions keep their 3×3 kernel:
 * - 'resnet': all of them (torchvision ResNet v1.5);
 * - 'rf':     only the first 3×3 of the first block and of the middle block (⌊n/2⌋) of each
 *             stage; every other 3×3 becomes 1×1 stride 1 (the RF-ResNet rule);
 * - 'bagnet': only the first block of each stage, with padding 0 (BagNet).
 */
export type KernelLayout = 'resnet' | 'rf' | 'bagnet';

export interface BackboneConfig {
  stem: StemKind;
  /** 3×3 stride-2 max-pool after the stem. */
  maxpool: boolean;
  /**
   * Stride of the first block of stages 2..4 (s, s′, s″); stage 1 has stride 1. A 4-entry list
   * gives all four stages (BagNet strides stage 1 too).
   */
  strides: number[];
  /** Blocks per stage n1..n4. */
  blocks: [number, number, number, number];
  block: BlockKind;
  /** Residual "MLP" block after global pooling (RF-ResNets; "v0" has none). */
  mlp: boolean;
  layout: KernelLayout;
  /** Channel multiplier (1 = the standard 64-128-256-512 base widths). */
  width?: number;
}

export const expansionOf = (b: BlockKind): number => (b === 'bottleneck' ? 4 : 1);

/** Stage strides as four numbers. */
export function stageStrides(cfg: BackboneConfig): [number, number, number, number] {
  const s = cfg.strides;
  if (s.length === 3) return [1, s[0], s[1], s[2]];
  if (s.length === 4) return [s[0], s[1], s[2], s[3]];
  throw new RangeError(`backbone config: strides must list 3 (stages 2–4) or 4 entries, got [${s}]`);
}

/** Base channels per stage after the width multiplier (at least 1). */
export function stagePlanes(cfg: BackboneConfig): [number, number, number, number] {
  const w = cfg.width ?? 1;
  if (!(w > 0)) throw new RangeError(`backbone config: width must be > 0, got ${w}`);
  const base = Math.max(1, Math.round(64 * w));
  return [base, base * 2, base * 4, base * 8];
}

export function validateConfig(cfg: BackboneConfig): void {
  stageStrides(cfg).forEach((s) => {
    if (!Number.isInteger(s) || s < 1) throw new RangeError(`backbone config: strides must be positive integers, got [${cfg.strides}]`);
  });
  cfg.blocks.forEach((n) => {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`backbone config: blocks must be positive integers, got [${cfg.blocks}]`);
  });
  stagePlanes(cfg);
}

/**
 * Kernel sizes of the 3×3-capable convolutions of block `i` (of `n`) in a stage: `k1` is the
 * first such conv (a bottleneck's conv2, a basic block's conv1), `k2` a basic block's conv2.
 * `stride` says whether this block carries the stage stride (first block only).
 */
export function blockKernels(layout: KernelLayout, i: number, n: number): { k1: 1 | 3; k2: 1 | 3 } {
  switch (layout) {
    case 'resnet': return { k1: 3, k2: 3 };
    case 'rf': return { k1: i === 0 || i === Math.floor(n / 2) ? 3 : 1, k2: 1 };
    case 'bagnet': return { k1: i === 0 ? 3 : 1, k2: 1 };
  }
}
