// The WebGPU backend: the Backend interface mapped onto kernel wrappers (ops/*.ts) that record
// into the runtime's command encoder. Nothing here waits for the device except download().
//
// Storage of dtypes on the GPU: f32 and i32 one 32-bit word per element; u8 packed 4 per word
// (the bytes of a Uint8Array, so upload/download are plain copies; kernels unpack them in
// cast.wgsl). u8 tensors support upload, download, fill and cast; other ops want f32/i32.
// f64 does not exist in WGSL: it throws, pointing at the cpu backend.
import type {
  Backend, BatchNormRunning, BinaryOp, GradInto, Conv2dParams, InputNorm, NormalizeEpilogue, OptimizerHyper, OptimizerKind, PoolParams, Raw, ReduceOp, ScalarOp, Storage,
  UnaryGradOp, UnaryOp,
} from '../backend.js';
import { allocArray, type DType, type TypedArray } from '../../runtime/dtype.js';
import { numel, type Shape } from '../../runtime/shape.js';
import type { GpuStorage } from './context.js';
import type { GpuRuntime } from './runtime.js';
import { bytesFor, f64Error, gpu } from './ops/util.js';
import { BackendError } from '../../runtime/errors.js';
import * as ew from './ops/elementwise.js';
import * as layout from './ops/layout.js';
import { reduce } from './ops/reduce.js';
import * as sm from './ops/softmax.js';
import { matmul } from './ops/matmul.js';
import { conv2d, conv2dBackwardData, conv2dBackwardWeight } from './ops/conv.js';
import { moments, normalize, batchNormBackward, batchStatistics } from './ops/norm.js';
import { batchNormFinalize } from './ops/norm_running.js';
import { maxPool2d, maxPool2dBackward } from './ops/pool.js';
import { emaUpdate, optimizerStep } from './ops/optim.js';
import { localCosine, localCosineBackward } from './ops/local_loss.js';

export class WebGpuBackend implements Backend {
  readonly name = 'webgpu' as const;
  constructor(readonly runtime: GpuRuntime) {}

  // ---- memory
  memoryStats(): { bytesInUse: number; peakBytesInUse: number; bytesAllocated: number; buffersCreated: number } {
    const s = this.runtime.stats();
    // held: live tensors' buffers and those a step plan keeps for its replays (step_log.ts)
    return { bytesInUse: s.bytesInUse + s.bytesReserved, peakBytesInUse: Math.max(s.peakBytesInUse, s.bytesInUse + s.bytesReserved),
      bytesAllocated: s.bytesAllocated, buffersCreated: s.buffersCreated };
  }
  submit(): void { this.runtime.flush(); }
  upload(data: TypedArray, dtype: DType): Storage {
    if (dtype === 'f64' || data instanceof Float64Array) throw f64Error();
    return this.runtime.upload(data);
  }
  fill(size: number, dtype: DType, value: number): Storage { return ew.fill(this.runtime, size, dtype, value); }
  write(dst: Raw, data: TypedArray): void {
    if (data instanceof Float64Array) throw f64Error();
    const bytes = bytesFor(numel(dst.shape), dst.dtype);
    if (data.byteLength !== bytes) throw new BackendError(`write: ${data.byteLength} bytes into a ${dst.dtype} tensor of ${bytes}`);
    this.runtime.write(dst.storage as GpuStorage, data);
  }
  async download(x: Raw): Promise<TypedArray> {
    const n = numel(x.shape);
    const bytes = bytesFor(n, x.dtype);
    const out = allocArray(x.dtype, n);
    if (n === 0) return out;
    const data = await this.runtime.read(x.storage as GpuStorage, bytes);
    new Uint8Array(out.buffer).set(new Uint8Array(data));
    return out;
  }
  release(s: Storage): void { this.runtime.release(s as GpuStorage); }
  view(base: Storage, offset: number, size: number, dtype: DType): Storage {
    return this.runtime.view(base as GpuStorage, bytesFor(offset, dtype), bytesFor(size, dtype));
  }
  cast(x: Raw, dtype: DType): Storage { return ew.cast(this.runtime, x, dtype); }
  copyInto(dst: Raw, dstOffset: number, src: Raw): void { layout.copyInto(this.runtime, dst, dstOffset, src); }

  // ---- elementwise
  unary(op: UnaryOp, x: Raw): Storage { return ew.unary(this.runtime, op, x); }
  unaryGrad(op: UnaryGradOp, x: Raw, dy: Raw): Storage { return ew.unaryGrad(this.runtime, op, x, dy); }
  binary(op: BinaryOp, a: Raw, b: Raw, outShape: Shape): Storage { return ew.binary(this.runtime, op, a, b, outShape); }
  scalar(op: ScalarOp, x: Raw, s: number): Storage { return ew.scalar(this.runtime, op, x, s); }

  // ---- reductions
  reduce(op: ReduceOp, x: Raw, axes: number[]): Storage { return reduce(this.runtime, op, x, axes); }

  // ---- layout
  permute(x: Raw, perm: number[]): Storage { return layout.permute(this.runtime, x, perm); }
  slice(x: Raw, begin: number[], size: number[]): Storage { return layout.slice(this.runtime, x, begin, size); }
  pad(x: Raw, begin: number[], outShape: Shape): Storage { return layout.pad(this.runtime, x, begin, outShape); }
  concat(xs: Raw[], axis: number): Storage { return layout.concat(this.runtime, xs, axis); }
  gather(x: Raw, axis: number, idx: Raw): Storage { return layout.gather(this.runtime, x, axis, idx); }
  scatterAdd(dy: Raw, axis: number, idx: Raw, outShape: Shape): Storage {
    return layout.scatterAdd(this.runtime, dy, axis, idx, outShape);
  }

  // ---- linear algebra, convolution, pooling, normalisation (ops/matmul|conv|pool|norm.ts)
  matmul(a: Raw, b: Raw, transA: boolean, transB: boolean, bias?: Raw | null, into?: Storage | null): Storage {
    return matmul(this.runtime, a, b, transA, transB, { epilogue: bias ? { bias: gpu(bias) } : undefined, out: into as GpuStorage | null });
  }
  conv2d(x: Raw, w: Raw, bias: Raw | null, p: Conv2dParams, batchNormGroups?: number, inputNorm?: InputNorm | null): Storage {
    return conv2d(this.runtime, x, w, bias, p, { columnStats: batchNormGroups, inputNorm });
  }
  conv2dBackwardData(dy: Raw, w: Raw, xShape: Shape, p: Conv2dParams, accumulate?: Raw | null): Storage {
    return conv2dBackwardData(this.runtime, dy, w, xShape, p, { accumulate });
  }
  conv2dBackwardWeight(x: Raw, dy: Raw, wShape: Shape, p: Conv2dParams, into?: Storage | null, inputNorm?: InputNorm | null): Storage {
    return conv2dBackwardWeight(this.runtime, x, dy, wShape, p, { into: into as GpuStorage | null, inputNorm });
  }
  maxPool2d(x: Raw, p: PoolParams): { y: Storage; argmax: Storage } { return maxPool2d(this.runtime, x, p); }
  maxPool2dBackward(dy: Raw, argmax: Raw, xShape: Shape): Storage { return maxPool2dBackward(this.runtime, dy, argmax, xShape); }
  moments(x: Raw): { mean: Storage; variance: Storage } { return moments(this.runtime, x); }
  normalize(x: Raw, mean: Raw, invstd: Raw, gamma: Raw | null, beta: Raw | null, epilogue?: NormalizeEpilogue): Storage {
    return normalize(this.runtime, x, mean, invstd, gamma, beta, epilogue);
  }
  batchNormFinalize(mean: Raw, variance: Raw, eps: number, running: BatchNormRunning | null): Storage {
    return batchNormFinalize(this.runtime, mean, variance, eps, running);
  }
  batchStatistics(x: Raw, eps: number, running: BatchNormRunning | null, groups?: number): { mean: Storage; invstd: Storage } {
    return batchStatistics(this.runtime, x, eps, running, groups);
  }
  batchNormBackward(x: Raw, dy: Raw, mean: Raw, invstd: Raw, gamma: Raw | null, into?: GradInto, reluOut?: Raw | null,
    reluFromInput?: { beta: Raw | null } | null): { dx: Storage; dgamma: Storage; dbeta: Storage; dyMasked?: Storage } {
    return batchNormBackward(this.runtime, x, dy, mean, invstd, gamma, into, reluOut, reluFromInput);
  }

  // ---- softmax family
  softmax(x: Raw, logSpace: boolean): Storage { return sm.softmax(this.runtime, x, logSpace); }
  softmaxBackward(y: Raw, dy: Raw, logSpace: boolean): Storage { return sm.softmaxBackward(this.runtime, y, dy, logSpace); }
  crossEntropy(logits: Raw, labels: Raw): Storage { return sm.crossEntropy(this.runtime, logits, labels); }
  crossEntropyBackward(logits: Raw, labels: Raw, dLoss: Raw): Storage {
    return sm.crossEntropyBackward(this.runtime, logits, labels, dLoss);
  }

  // ---- CO-SSL local loss, whole-model updates
  localCosine(pl: Raw, zg: Raw, p: Raw, zl: Raw): Storage { return localCosine(this.runtime, pl, zg, p, zl); }
  localCosineBackward(pl: Raw, zg: Raw, p: Raw, zl: Raw, dLoss: Raw): { dpl: Storage; dp: Storage } {
    return localCosineBackward(this.runtime, pl, zg, p, zl, dLoss);
  }
  emaUpdate(target: Raw, source: Raw, tau: Raw): void { emaUpdate(this.runtime, target, source, tau); }
  optimizerStep(kind: OptimizerKind, param: Raw, grad: Raw, state1: Raw, state2: Raw | null, segments: Raw,
    hyper: Raw, h: OptimizerHyper): void {
    optimizerStep(this.runtime, kind, param, grad, state1, state2, segments, hyper, h);
  }
}
