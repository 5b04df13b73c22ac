// What the runtime records while logging a step, so that an identical later step can be issued
// again without running the JavaScript that produced it (autograd, shape checks, kernel choice:
// about three quarters of a step's host time). A step qualifies when two consecutive recordings
// are the same command for command: pipelines, bind groups (the cache returns the same object
// for the same buffers and uniform slots), grids, uniform bytes and uploaded bytes. Whatever
// varies from step to step must then live in tensors the host writes before the step
// (Backend.write), which is the contract of src/training/step_replay.ts.
import type { GpuStorage } from './context.js';

export interface LoggedUpload { buffer: GPUBuffer; offset: number; data: Uint8Array }

export class StepLog {
  readonly pipelines: GPUComputePipeline[] = [];
  readonly groups: GPUBindGroup[] = [];
  /** Workgroup counts, three per dispatch. */
  readonly grid: number[] = [];
  /** Every buffer a dispatch bound, with the storage that bound it last (to tell owners apart). */
  readonly holders = new Map<GPUBuffer, GpuStorage>();
  readonly uploads: LoggedUpload[] = [];
  /** The uniform arena as the step left it: each chunk's used bytes. */
  uniforms: Uint8Array[] = [];
  /** Why this log cannot be replayed (a submit or read-back inside the step), or null. */
  broken: string | null = null;
  lastLabel = '(none)';

  get dispatches(): number { return this.pipelines.length; }

  dispatch(pipeline: GPUComputePipeline, group: GPUBindGroup, x: number, y: number, z: number, buffers: GpuStorage[], label: string): void {
    this.pipelines.push(pipeline);
    this.groups.push(group);
    this.grid.push(x, y, z);
    for (const b of buffers) this.holders.set(b.buffer, b);
    this.lastLabel = label;
  }

  upload(buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
    this.uploads.push({ buffer, offset, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() });
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The same work, wherever its data lives: the same kernels and grids with the same uniform and
 * uploaded bytes, buffers aside. Two steps that differ in buffers only (the pool handed out
 * others) compute the same; two that differ here record different work for the same inputs.
 */
export function sameWork(a: StepLog, b: StepLog): boolean {
  const n = a.pipelines.length;
  if (n !== b.pipelines.length || a.uploads.length !== b.uploads.length || a.uniforms.length !== b.uniforms.length) return false;
  for (let i = 0; i < n; i++) if (a.pipelines[i] !== b.pipelines[i]) return false;
  for (let i = 0; i < 3 * n; i++) if (a.grid[i] !== b.grid[i]) return false;
  for (let i = 0; i < a.uploads.length; i++) if (!sameBytes(a.uploads[i].data, b.uploads[i].data)) return false;
  for (let c = 0; c < a.uniforms.length; c++) if (!sameBytes(a.uniforms[c], b.uniforms[c])) return false;
  return true;
}

/** The same work on the same buffers (bind groups, upload targets): one may be issued in place of the other. */
export function sameLog(a: StepLog, b: StepLog): boolean {
  if (!sameWork(a, b)) return false;
  for (let i = 0; i < a.groups.length; i++) if (a.groups[i] !== b.groups[i]) return false;
  for (let i = 0; i < a.uploads.length; i++) {
    if (a.uploads[i].buffer !== b.uploads[i].buffer || a.uploads[i].offset !== b.uploads[i].offset) return false;
  }
  return true;
}

/**
 * A log made replayable: the buffers only the step uses (its temporaries and outputs) are taken
 * out of the pool for as long as the plan lives, so nothing else can be handed them between
 * replays; the buffers other storages own (parameters, optimiser state, inputs) are checked to
 * be still alive before each replay.
 */
export interface StepPlan {
  readonly log: StepLog;
  readonly reserved: GPUBuffer[];
  readonly reservedBytes: number;
  readonly external: GpuStorage[];
  readonly buffers: GPUBuffer[];
  released: boolean;
}
