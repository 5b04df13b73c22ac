// Dispatch of the augmentation kernels (kernels/augment.wgsl, kernels/augment_blur.wgsl): one
// fused pass per batch, plus two separable blur passes only when some image is blurred.
import type { Raw } from '../backend.js';
import type { GpuStorage } from './context.js';
import type { GpuRuntime } from './runtime.js';
import { gpu, grid } from './ops/util.js';
import { anyBlur, blurKernelSize, type ViewSpec } from '../../data/augment_params.js';

function meanStd(u: ArrayBuffer, floatOffset: number, spec: ViewSpec): void {
  const f = new Float32Array(u);
  f.set(spec.mean.slice(0, 3), floatOffset);
  f.set(spec.std.slice(0, 3), floatOffset + 4);
}

/**
 * images: u8 [N, H, W, C] resident storage; idx: i32 [B]; params: B rows (augment_params.ts);
 * deviceParams: the same rows already on the device (else they are uploaded here).
 * Returns f32 [B, size, size, 3] storage. Shapes are checked by the caller (data/augment.ts).
 */
export function augmentGpu(rt: GpuRuntime, images: Raw, idx: Raw, params: Float32Array, spec: ViewSpec,
  deviceParams: Raw | null = null): GpuStorage {
  const [N, H, W, C] = images.shape;
  const B = idx.shape[0], S = spec.size;
  // Blur passes whenever the view may blur, not only when this batch drew a blur: the work
  // recorded then depends on the view alone, as step replay needs (σ = 0 rows pass through).
  const blur = spec.blurP > 0 || anyBlur(params);
  const out = rt.alloc(B * S * S * 3 * 4);
  const prm = deviceParams ? gpu(deviceParams) : rt.upload(params);

  const u = new ArrayBuffer(64);
  new Uint32Array(u, 0, 8).set([N, H, W, C, S, B, spec.interpolation === 'bicubic' ? 1 : 0, blur ? 0 : 1]);
  meanStd(u, 8, spec);
  rt.dispatch(rt.pipeline({ file: 'augment.wgsl', entryPoint: 'main' }), [gpu(images), gpu(idx), prm, out], u,
    [B, 1, 1], `augment ${B}×${S}²`);

  if (blur) {
    const tmp = rt.alloc(B * S * S * 3 * 4);
    const ub = (finish: number) => {
      const b = new ArrayBuffer(48);
      new Uint32Array(b, 0, 4).set([S, B, blurKernelSize(S), finish]);
      meanStd(b, 4, spec);
      return b;
    };
    const g = grid(rt, B * S * S);
    rt.dispatch(rt.pipeline({ file: 'augment_blur.wgsl', entryPoint: 'blur_h' }), [out, prm, tmp], ub(0), g, 'augment blur_h');
    rt.dispatch(rt.pipeline({ file: 'augment_blur.wgsl', entryPoint: 'blur_v' }), [tmp, prm, out], ub(1), g, 'augment blur_v');
    rt.release(tmp);
  }
  if (!deviceParams) rt.release(prm);
  return out;
}
