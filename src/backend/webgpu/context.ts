// The contract between the WebGPU runtime (runtime.ts: device, pools, pipeline cache, command
// recorder) and the kernel wrappers in ops/*.ts. Kernel wrappers only see this interface.
//
// Kernel binding convention (every kernels/*.wgsl compute entry point follows it):
//   @group(0) @binding(0..n-1)  storage buffers, in the order passed to dispatch()
//   @group(0) @binding(n)       one uniform buffer `params` (a struct of u32/i32/f32 fields),
//                               present only when dispatch() is given uniform data.
// Shapes always travel in `params` (or as override constants only when they select a code
// path): pipelines are cached by kernel file + entry point + override constants, never by shape.
import type { Storage } from '../backend.js';

/** A GPU buffer region owned by the pool. `bytes` is the logical size; the buffer may be larger. */
export interface GpuStorage extends Storage {
  readonly backend: 'webgpu';
  readonly buffer: GPUBuffer;
  readonly bytes: number;
  /** Byte offset of the region in `buffer` (views into flat parameter buffers); 0 when absent. */
  readonly offset?: number;
  /** Set once the storage went back to the pool (a view: once its base did). */
  readonly released?: boolean;
  /**
   * The storage this one is a region of (views, binding regions): the runtime tells which
   * allocation a binding belongs to by following it (memory_plan.ts keeps allocations that one
   * dispatch binds read-only against writable in different buffers).
   */
  readonly base?: GpuStorage;
}

export interface KernelRef {
  /** File name under kernels/, e.g. 'elementwise.wgsl'. */
  file: string;
  entryPoint?: string;
  /** WGSL override constants (workgroup size, tile sizes, code-path switches). */
  constants?: Record<string, number>;
  /** Text prepended to the source, for type specialisation (e.g. `alias T = f32;`). */
  prelude?: string;
  /**
   * What the prelude makes of the kernel, in a word (a GEMM's tile name): part of the shader
   * module's label, which is how `coengine --pipeline-stats` tells a kernel's variants apart.
   */
  variant?: string;
  /**
   * A kernels/ file the prelude holds, from `firstLine` (1-based, in the prelude) to the
   * prelude's end (the GEMM core): compile errors there are named by that file's own lines.
   */
  preludeSource?: { file: string; firstLine: number };
}

export interface GpuContext {
  readonly device: GPUDevice;
  readonly limits: GPUSupportedLimits;
  readonly features: ReadonlySet<string>;
  /** Compiled pipeline for a kernel (cached; compile errors name kernels/<file>:<line>). */
  pipeline(k: KernelRef): GPUComputePipeline;
  /** Storage from the pool (contents undefined unless zero is set). */
  alloc(bytes: number, zero?: boolean): GpuStorage;
  /** Back to the pool at once (later dispatches may reuse it: the queue keeps them ordered). */
  release(s: GpuStorage): void;
  /**
   * Record one dispatch into the current command encoder (nothing is submitted until a
   * read-back or an explicit flush). `uniforms` become the trailing uniform binding. `flops`:
   * the useful floating-point work of a GEMM-like dispatch, reported by the profile as a rate.
   */
  dispatch(pipeline: GPUComputePipeline, buffers: GpuStorage[], uniforms: ArrayBuffer | ArrayBufferView | null,
    workgroups: [number, number?, number?], label?: string, flops?: number): void;
  /** Submit what has been recorded. */
  flush(): void;
  /** Attach a by-product to `owner`, released with it unless taken first. */
  attachSidecar(owner: GpuStorage, side: Sidecar): void;
  /** Take the sidecar of `kind` attached to `owner` (the caller then releases it); null when none. */
  takeSidecar(owner: GpuStorage, kind: string): Sidecar | null;
}

/** A storage made alongside another one (see attachSidecar), with a few numbers describing it. */
export interface Sidecar {
  readonly kind: string;
  readonly storage: GpuStorage;
  readonly info: Readonly<Record<string, number>>;
}
