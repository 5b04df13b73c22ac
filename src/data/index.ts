// Public surface of the host-side data pipeline (prepared-dataset format, readers, preparers,
// the built-in synthetic data set). GPU augmentations live in src/data/augment*.
export * from './format.js';
export { readMeta, loadSplit, verifyDataset, SplitReader } from './reader.js';
export type { SplitData } from './reader.js';
export { prepareDataset } from './prepare.js';
export type { PrepareOptions } from './prepare.js';
export {
  SYNTHETIC_CLASSES, SYNTHETIC_PARTS, SYNTHETIC_PAIRS, SYNTHETIC_SHAPE, SYNTHETIC_SIZE, SYNTHETIC_DEFAULT_COUNTS,
  generateSynthetic, renderSynthetic, describeSynthetic, syntheticLabel,
} from './synthetic.js';
export type { SyntheticSplit, SyntheticOptions } from './synthetic.js';
