// Placeholder until the WebGPU runtime lands: reports no adapter.
import type { Backend } from '../backend.js';
export async function createWebGpuBackend(): Promise<{ backend: Backend } | null> { return null; }
