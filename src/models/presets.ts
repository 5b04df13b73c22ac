// Named backbones. RF-ResNet members follow SPEC §4's table (RF67's strides are one
// configuration that reaches 67; the paper does not give them).
import type { BackboneConfig } from './config.js';
import { ResNet, type BackboneOptions } from './resnet.js';

const resnet = (block: BackboneConfig['block'], blocks: BackboneConfig['blocks']): BackboneConfig =>
  ({ stem: '7x7', maxpool: true, strides: [2, 2, 2], blocks, block, mlp: false, layout: 'resnet' });

const rf50 = (maxpool: boolean, strides: number[], mlp = true): BackboneConfig =>
  ({ stem: '7x7', maxpool, strides, blocks: [3, 4, 6, 4], block: 'bottleneck', mlp, layout: 'rf' });

export const PRESETS: Readonly<Record<string, BackboneConfig>> = Object.freeze({
  'resnet18': resnet('basic', [2, 2, 2, 2]),
  'resnet34': resnet('basic', [3, 4, 6, 3]),
  'resnet50': resnet('bottleneck', [3, 4, 6, 3]),
  'rf99-resnet50': rf50(false, [2, 2, 2]),
  'rf99-resnet50v0': rf50(false, [2, 2, 2], false),
  'rf67-resnet50': rf50(false, [2, 1, 2]),
  'rf163-resnet50': rf50(true, [2, 2, 1]),
  'rf195-resnet50': rf50(true, [2, 2, 2]),
  'rf29-resnet18': { stem: '3x3', maxpool: false, strides: [1, 2, 2], blocks: [4, 4, 4, 4], block: 'basic', mlp: true, layout: 'rf' },
  // Half the blocks of RF29-ResNet18 and the same receptive field (with two blocks per stage the
  // first and the middle block are the only ones, so every stage keeps both its 3×3 convs): the
  // small member the default run uses on software rasterisers and the CPU backend.
  'rf29-resnet10': { stem: '3x3', maxpool: false, strides: [1, 2, 2], blocks: [2, 2, 2, 2], block: 'basic', mlp: true, layout: 'rf' },
  'bagnet33': { stem: 'bagnet', maxpool: false, strides: [2, 2, 2, 1], blocks: [3, 4, 6, 3], block: 'bottleneck', mlp: false, layout: 'bagnet' },
});

export const presetNames = (): string[] => Object.keys(PRESETS);

export interface PresetOverrides {
  /** Channel multiplier for small experiments. */
  width?: number;
  /** Small-image stem: 3×3 stride-1 conv and no max-pool (CIFAR-style inputs). */
  smallStem?: boolean;
}

export function backboneConfig(name: string, o: PresetOverrides = {}): BackboneConfig {
  const base = PRESETS[name.toLowerCase()];
  if (!base) throw new Error(`unknown backbone '${name}'; known: ${presetNames().join(', ')}`);
  const cfg: BackboneConfig = { ...base, strides: [...base.strides], blocks: [...base.blocks] as BackboneConfig['blocks'] };
  if (o.width !== undefined) cfg.width = o.width;
  if (o.smallStem) {
    if (cfg.stem === 'bagnet') throw new Error(`${name}: BagNet has its own stem; --small-stem does not apply`);
    cfg.stem = '3x3';
    cfg.maxpool = false;
  }
  return cfg;
}

/** Build a named backbone. */
export function createBackbone(name: string, o: PresetOverrides & BackboneOptions = {}): ResNet {
  return new ResNet(backboneConfig(name, o), o);
}
