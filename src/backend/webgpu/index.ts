// Entry point of the WebGPU backend: open the device, wrap it in the runtime and the Backend.
// Returns null when there is no adapter (the registry then falls back to the CPU backend).
import type { Backend } from '../backend.js';
import { openDevice, noDeviceReason, type AdapterSummary } from './device.js';
import { GpuRuntime } from './runtime.js';
import { WebGpuBackend } from './backend.js';

export interface WebGpuHandle {
  backend: Backend;
  /** The runtime behind it: stats(), timeDispatches(), sync(), trimPool(). */
  runtime: GpuRuntime;
  adapter: AdapterSummary;
  /** Release the device (tests, CLI commands that exit). */
  destroy(): void;
}

export async function createWebGpuBackend(): Promise<WebGpuHandle | null> {
  const opened = await openDevice();
  if (!opened) return null;
  const runtime = new GpuRuntime(opened.device);
  return { backend: new WebGpuBackend(runtime), runtime, adapter: opened.summary, destroy: () => runtime.destroy() };
}

/** Why createWebGpuBackend() returned null (for notices). */
export function whyNoWebGpu(): string { return noDeviceReason; }
