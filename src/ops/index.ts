// The public op set. Each op's forward, shape checks and gradient are defined in one place
// (files in this folder); its primitives live in backend/cpu and backend/webgpu.
import { installTapeOps } from '../autograd/tape.js';
import { onesLike } from './creation.js';
import { add } from './elementwise.js';

export * from './creation.js';
export * from './elementwise.js';
export * from './reduce.js';
export * from './layout.js';
export * from './linalg.js';
export * from './conv.js';
export * from './pool.js';
export * from './norm.js';
export * from './norm_conv.js';
export * from './softmax.js';
export * from './similarity.js';
export * from './local_loss.js';
export { noGrad, detach, backward, grad, isGradEnabled } from '../autograd/tape.js';

installTapeOps(onesLike, add);
