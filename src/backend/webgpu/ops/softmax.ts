// Softmax, log-softmax and cross-entropy over the last axis (kernels/softmax.wgsl): one
// workgroup of 128 threads per row.
import type { Raw, Storage } from '../../backend.js';
import { numel } from '../../../runtime/shape.js';
import { fmtShape } from '../../../runtime/errors.js';
import type { GpuContext, GpuStorage } from '../context.js';
import { params } from '../params.js';
import { alloc, gpu, grid, need32 } from './util.js';

function rowsOf(x: Raw): { rows: number; K: number } {
  const K = x.shape.length ? x.shape[x.shape.length - 1] : 1;
  return { rows: K === 0 ? 0 : numel(x.shape) / K, K };
}

function run(ctx: GpuContext, entryPoint: string, x: Raw, buffers: GpuStorage[], log: boolean, label: string): void {
  const { rows, K } = rowsOf(x);
  if (rows === 0) return;
  ctx.dispatch(ctx.pipeline({ file: 'softmax.wgsl', entryPoint }), buffers,
    params().u32(rows, K, log ? 1 : 0).bytes(), grid(ctx, rows, 1), `${label} ${fmtShape(x.shape)}`);
}

export function softmax(ctx: GpuContext, x: Raw, logSpace: boolean): Storage {
  need32('softmax', x, ['f32']);
  const out = alloc(ctx, x.shape, x.dtype);
  run(ctx, 'softmax_fwd', x, [gpu(x), out], logSpace, logSpace ? 'logSoftmax' : 'softmax');
  return out;
}

export function softmaxBackward(ctx: GpuContext, y: Raw, dy: Raw, logSpace: boolean): Storage {
  need32('softmaxBackward', y, ['f32']);
  const out = alloc(ctx, y.shape, y.dtype);
  run(ctx, 'softmax_bwd', y, [gpu(y), gpu(dy), out], logSpace, 'softmaxBackward');
  return out;
}

export function crossEntropy(ctx: GpuContext, logits: Raw, labels: Raw): Storage {
  need32('crossEntropy', logits, ['f32']);
  need32('crossEntropy labels', labels, ['i32']);
  const out = alloc(ctx, logits.shape[0], logits.dtype);
  run(ctx, 'ce_fwd', logits, [gpu(logits), gpu(labels), out], false, 'crossEntropy');
  return out;
}

export function crossEntropyBackward(ctx: GpuContext, logits: Raw, labels: Raw, dLoss: Raw): Storage {
  need32('crossEntropyBackward', logits, ['f32']);
  const out = alloc(ctx, logits.shape, logits.dtype);
  run(ctx, 'ce_bwd', logits, [gpu(logits), gpu(labels), gpu(dLoss), out], false, 'crossEntropyBackward');
  return out;
}
