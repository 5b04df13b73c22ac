// Which backend new tensors go to. `auto` prefers WebGPU and falls back to the CPU reference
// backend with one clear notice when no adapter exists. The WebGPU device is opened once per
// process and shared.
import type { Backend, BackendName } from './backend.js';
import { CpuBackend } from './cpu/index.js';
import type { WebGpuHandle } from './webgpu/index.js';

let cpuBackend: Backend | null = null;
let current: Backend | null = null;
let noticeShown = false;
let gpu: Promise<WebGpuHandle | null> | null = null;

export type BackendChoice = 'auto' | BackendName;

export function cpu(): Backend {
  return (cpuBackend ??= new CpuBackend());
}

export function defaultBackend(): Backend {
  return (current ??= cpu());
}

export function setDefaultBackend(b: Backend): void { current = b; }

/** The process's WebGPU device (opened on first use), or null without an adapter. */
export async function webgpu(): Promise<WebGpuHandle | null> {
  if (!gpu) gpu = import('./webgpu/index.js').then((m) => m.createWebGpuBackend());
  return gpu;
}

/** Adapter description of a backend ('cpu' for the CPU backend). */
export async function describeBackend(b: Backend): Promise<{ name: string; device: string; software: boolean }> {
  if (b.name === 'cpu') return { name: 'cpu', device: 'cpu (reference backend)', software: true };
  const h = await webgpu();
  const a = h?.adapter;
  const text = `${a?.description ?? ''} ${a?.architecture ?? ''} ${a?.device ?? ''}`;
  return { name: 'webgpu', device: a?.description || a?.device || 'webgpu', software: !!a?.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader|software/i.test(text) };
}

/** Initialise a backend and make it the default. */
export async function initBackend(choice: BackendChoice = 'auto', opts: { quiet?: boolean } = {}): Promise<Backend> {
  if (choice === 'cpu') { setDefaultBackend(cpu()); return cpu(); }
  const h = await webgpu();
  if (h) { setDefaultBackend(h.backend); return h.backend; }
  if (choice === 'webgpu') {
    const { whyNoWebGpu } = await import('./webgpu/index.js');
    throw new Error(`--device webgpu: no WebGPU adapter (${whyNoWebGpu() || 'none found'})`);
  }
  if (!noticeShown && !opts.quiet) {
    noticeShown = true;
    process.stderr.write('coengine: no WebGPU adapter found; running on the CPU reference backend (slow). ' +
      'Install a Vulkan driver (scripts/setup-ci.sh installs Mesa lavapipe) for GPU execution.\n');
  }
  setDefaultBackend(cpu());
  return cpu();
}
