// augmentBatch: the augmented, normalised views of a batch of resident u8 images, on the
// images' backend (WebGPU kernels or the CPU reference, which compute the same function of the
// per-image parameter rows drawn by sampleParams()).
import { Tensor } from '../tensor.js';
import { BackendError, ShapeError, fmtShape } from '../runtime/errors.js';
import type { GpuRuntime } from '../backend/webgpu/runtime.js';
import { augmentGpu } from '../backend/webgpu/augment.js';
import { augmentCpu } from './augment_cpu.js';
import { PARAM_STRIDE, anyBlur, blurKernelSize, sampleParams, type ViewSpec } from './augment_params.js';
import { Rng } from '../runtime/rng.js';

export { byolViews, multiCropView, evalView, probeView, sampleParams, PARAM_STRIDE } from './augment_params.js';
export type { ViewSpec } from './augment_params.js';

function check(images: Tensor, idx: Tensor, params: Float32Array, spec: ViewSpec): void {
  if (images.dtype !== 'u8' || images.rank !== 4 || !(images.shape[3] === 1 || images.shape[3] === 3)) {
    throw new ShapeError(`augmentBatch: images must be u8 [N, H, W, C] with C = 1 or 3, got ${images.describe()}`);
  }
  if (idx.dtype !== 'i32' || idx.rank !== 1) throw new ShapeError(`augmentBatch: idx must be i32 [B], got ${idx.describe()}`);
  if (idx.backend !== images.backend) {
    throw new BackendError(`augmentBatch: idx is on ${idx.backend.name}, images on ${images.backend.name}`);
  }
  const B = idx.shape[0];
  if (params.length !== B * PARAM_STRIDE) {
    throw new ShapeError(`augmentBatch: params has ${params.length} floats, expected ${B} rows × ${PARAM_STRIDE} ` +
      `for idx ${fmtShape(idx.shape)} (draw them with sampleParams(rng, ${B}, ...))`);
  }
  if (spec.mean.length !== 3 || spec.std.length !== 3) {
    throw new RangeError(`augmentBatch: spec mean/std need 3 values (byolViews/evalView expand 1-channel stats)`);
  }
  if (anyBlur(params) && (blurKernelSize(spec.size) - 1) / 2 >= spec.size) {
    throw new RangeError(`augmentBatch: blur kernel ${blurKernelSize(spec.size)} is too large for ${spec.size}-px views`);
  }
}

/**
 * images: u8 tensor [N, H, W, C] (C = 1 or 3; grayscale sources are expanded to 3 channels) on
 * any backend; idx: i32 [B] which images; params: B rows from sampleParams() for this spec →
 * f32 [B, size, size, 3] normalised NHWC on the same backend. deviceParams: an f32 tensor on
 * the images' backend holding the same rows (written before a replayable step, which then
 * uploads nothing itself); the GPU reads the rows from it.
 */
export function augmentBatch(images: Tensor, idx: Tensor, params: Float32Array, spec: ViewSpec, deviceParams?: Tensor): Tensor {
  check(images, idx, params, spec);
  if (deviceParams && (deviceParams.dtype !== 'f32' || deviceParams.size !== params.length || deviceParams.backend !== images.backend)) {
    throw new ShapeError(`augmentBatch: deviceParams must be f32 with ${params.length} values on ${images.backend.name}, got ${deviceParams.describe()}`);
  }
  const B = idx.shape[0], S = spec.size;
  const shape = [B, S, S, 3];
  const backend = images.backend;
  if (backend.name === 'webgpu') {
    const rt = (backend as unknown as { runtime: GpuRuntime }).runtime;
    return new Tensor(backend, augmentGpu(rt, images, idx, params, spec, deviceParams ?? null), shape, 'f32');
  }
  const out = augmentCpu(images.dataSync() as Uint8Array, images.shape, idx.dataSync(), params, spec);
  return new Tensor(backend, backend.upload(out, 'f32'), shape, 'f32');
}

/**
 * Images [start, start + n) of a resident u8 set through a view without randomness (evaluation:
 * resize / centre crop / normalise) → f32 [n, size, size, 3] on the images' backend.
 */
export function evalBatch(images: Tensor, start: number, n: number, view: ViewSpec): Tensor {
  const idx = new Tensor(images.backend, images.backend.upload(Int32Array.from({ length: n }, (_, i) => start + i), 'i32'), [n], 'i32');
  const x = augmentBatch(images, idx, sampleParams(new Rng(0), n, images.shape[1], images.shape[2], view), view);
  idx.dispose();
  return x;
}
