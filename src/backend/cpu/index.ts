// The CPU reference backend: plain TypeScript loops, f32 and f64, accumulation in double.
// It defines what every other backend must compute.
import { BackendError } from '../../runtime/errors.js';
import type { Backend, Raw, Storage } from '../backend.js';
import { allocArray, type DType, type TypedArray } from '../../runtime/dtype.js';
import { cpuStorage, dataOf } from './storage.js';
import * as ew from './elementwise.js';
import { reduce } from './reduce.js';
import * as layout from './layout.js';
import { matmul } from './matmul.js';
import * as conv from './conv.js';
import * as pool from './pool.js';
import * as norm from './norm.js';
import * as sm from './softmax.js';
import * as optim from './optim.js';
import * as local from './local_loss.js';

export class CpuBackend implements Backend {
  readonly name = 'cpu' as const;

  upload(data: TypedArray, dtype: DType): Storage {
    const a = allocArray(dtype, data.length);
    a.set(data as ArrayLike<number>);
    return cpuStorage(a);
  }
  fill(size: number, dtype: DType, value: number): Storage { return cpuStorage(allocArray(dtype, size).fill(value)); }
  write(dst: Raw, data: TypedArray): void {
    const d = dataOf(dst);
    if (d.length !== data.length) throw new BackendError(`write: ${data.length} values into a tensor of ${d.length}`);
    d.set(data as ArrayLike<number>);
  }
  async download(x: Raw): Promise<TypedArray> { return dataOf(x).slice(); }
  release(_s: Storage): void { /* garbage collected */ }
  cast(x: Raw, dtype: DType): Storage {
    const a = allocArray(dtype, dataOf(x).length);
    a.set(dataOf(x) as ArrayLike<number>);
    return cpuStorage(a);
  }
  copyInto(dst: Raw, dstOffset: number, src: Raw): void {
    dataOf(dst).set(dataOf(src) as ArrayLike<number>, dstOffset);
  }

  unary = ew.unary;
  unaryGrad = ew.unaryGrad;
  binary = ew.binary;
  scalar = ew.scalar;
  reduce = reduce;
  permute = layout.permute;
  slice = layout.slice;
  pad = layout.pad;
  concat = layout.concat;
  gather = layout.gather;
  scatterAdd = layout.scatterAdd;
  matmul = matmul;
  conv2d = conv.conv2d;
  conv2dBackwardData = conv.conv2dBackwardData;
  conv2dBackwardWeight = conv.conv2dBackwardWeight;
  maxPool2d = pool.maxPool2d;
  maxPool2dBackward = pool.maxPool2dBackward;
  moments = norm.moments;
  normalize = norm.normalize;
  batchNormBackward = norm.batchNormBackward;
  batchNormFinalize = norm.batchNormFinalize;
  batchStatistics = norm.batchStatistics;
  softmax = sm.softmax;
  softmaxBackward = sm.softmaxBackward;
  crossEntropy = sm.crossEntropy;
  crossEntropyBackward = sm.crossEntropyBackward;

  localCosine = local.localCosine;
  localCosineBackward = local.localCosineBackward;

  view(base: Storage, offset: number, size: number, _dtype: DType): Storage {
    return cpuStorage((base as ReturnType<typeof cpuStorage>).data.subarray(offset, offset + size));
  }
  emaUpdate = optim.emaUpdate;
  optimizerStep = optim.optimizerStep;
}
