export * from './config.js';
export * from './blocks.js';
export * from './resnet.js';
export * from './presets.js';
export * from './trace.js';
export * from './analyze.js';
export * from './efficiency.js';
export * from './zero_rng.js';
