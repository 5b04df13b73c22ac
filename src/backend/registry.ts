// Which backend new tensors go to. `auto` prefers WebGPU and falls back to the CPU reference
// backend with one clear notice when no adapter exists.
import type { Backend, BackendName } from './backend.js';
import { CpuBackend } from './cpu/index.js';

let cpuBackend: Backend | null = null;
let current: Backend | null = null;
let noticeShown = false;

export type BackendChoice = 'auto' | BackendName;

export function cpu(): Backend {
  return (cpuBackend ??= new CpuBackend());
}

export function defaultBackend(): Backend {
  return (current ??= cpu());
}

export function setDefaultBackend(b: Backend): void { current = b; }

/** Initialise a backend and make it the default. */
export async function initBackend(choice: BackendChoice = 'auto', opts: { quiet?: boolean } = {}): Promise<Backend> {
  if (choice === 'cpu') { setDefaultBackend(cpu()); return cpu(); }
  const { createWebGpuBackend } = await import('./webgpu/index.js');
  const gpu = await createWebGpuBackend();
  if (gpu) { setDefaultBackend(gpu.backend); return gpu.backend; }
  if (choice === 'webgpu') throw new Error(`no WebGPU adapter: ${gpu === null ? 'none found' : ''}`.trim());
  if (!noticeShown && !opts.quiet) {
    noticeShown = true;
    process.stderr.write('coengine: no WebGPU adapter found; running on the CPU reference backend (slow). ' +
      'Install a Vulkan driver (see README) for GPU execution.\n');
  }
  setDefaultBackend(cpu());
  return cpu();
}
