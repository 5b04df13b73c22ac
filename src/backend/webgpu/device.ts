// Opening a Dawn device through the npm `webgpu` package: instance toggles, the adapter's full
// limits and the optional features the kernels can use. Everything else in the backend goes
// through the runtime (runtime.ts); this file only knows how to get a device.
import { create, globals } from 'webgpu';
import { BackendError } from '../../runtime/errors.js';

// Dawn's node binding exposes GPUBufferUsage, GPUMapMode, ... as `globals`; the kernels' wrappers
// use them as in a browser.
Object.assign(globalThis, globals);

/** Toggles every device gets unless COENGINE_DAWN_DISABLE names them (SPEC §9). */
const DEFAULT_ENABLED = ['allow_unsafe_apis', 'use_vulkan_memory_model', 'vulkan_enable_f16_on_nvidia'];

/**
 * Instance toggles (SPEC §9): unsafe APIs and the Vulkan memory model unlock subgroup matrices
 * and f16 on NVIDIA; Dawn otherwise quantises timestamps, which ruins kernel timings.
 * COENGINE_DAWN_ENABLE (comma-separated Dawn toggle names) adds toggles for experiments, e.g.
 * `disable_robustness` to measure what the bounds clamps Dawn adds to every storage access
 * cost the kernels (they index in bounds by construction; parity tests check it).
 * COENGINE_DAWN_DISABLE turns toggles off, defaults included: e.g. `use_vulkan_memory_model`,
 * which the f32 kernels do not need but which changes every workgroup-memory access and barrier
 * Tint emits (NonPrivatePointer, MakeAvailable/MakeVisible): whether the NVIDIA driver's code
 * for the GEMMs differs is a measurement to make.
 */
export function dawnToggles(): string[] {
  const extra = toggleList('COENGINE_DAWN_ENABLE');
  const off = toggleList('COENGINE_DAWN_DISABLE');
  const on = [...DEFAULT_ENABLED, ...extra.filter((t) => !DEFAULT_ENABLED.includes(t))].filter((t) => !off.includes(t));
  return [
    `enable-dawn-features=${on.join(',')}`,
    `disable-dawn-features=${['timestamp_quantization', ...off.filter((t) => t !== 'timestamp_quantization')].join(',')}`,
  ];
}

/** Add a Dawn toggle for devices opened from now on (as COENGINE_DAWN_ENABLE does). */
export function enableDawnToggle(name: string): void {
  const have = toggleList('COENGINE_DAWN_ENABLE');
  if (!have.includes(name)) process.env.COENGINE_DAWN_ENABLE = [...have, name].join(',');
}

/** The toggle names listed in an environment variable (comma-separated), checked for shape. */
function toggleList(variable: 'COENGINE_DAWN_ENABLE' | 'COENGINE_DAWN_DISABLE'): string[] {
  const names = (process.env[variable] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!/^[a-z0-9_]+$/.test(n)) throw new BackendError(`${variable}: '${n}' is not a Dawn toggle name (lower_snake_case, comma-separated)`);
  }
  return names;
}

/** Optional features requested when the adapter has them. */
export const WANTED_FEATURES: GPUFeatureName[] = ['timestamp-query', 'subgroups', 'shader-f16'];

export interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  M: number;
  N: number;
  K: number;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  /** Every feature the adapter reports (the device gets only WANTED_FEATURES among them). */
  adapterFeatures: string[];
  deviceFeatures: string[];
  limits: Record<string, number>;
  subgroupMatrixConfigs: SubgroupMatrixConfig[];
}

export interface OpenedDevice {
  device: GPUDevice;
  adapter: GPUAdapter;
  summary: AdapterSummary;
}

// The GPU instance must outlive every device made from it.
let instance: GPU | null = null;

/** Why there is no device, when openDevice() returns null (for messages). */
export let noDeviceReason = '';

/** The adapter's numeric limits (all of them: Dawn's defaults are far below what GPUs offer). */
export function adapterLimits(adapter: GPUAdapter): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key in adapter.limits) {
    const v = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof v === 'number') out[key] = v;
  }
  return out;
}

function summarise(adapter: GPUAdapter, device: GPUDevice): AdapterSummary {
  const info = adapter.info as GPUAdapterInfo & {
    subgroupMinSize?: number; subgroupMaxSize?: number; isFallbackAdapter?: boolean;
    subgroupMatrixConfigs?: SubgroupMatrixConfig[];
  };
  return {
    vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description,
    isFallbackAdapter: Boolean(info.isFallbackAdapter),
    subgroupMinSize: info.subgroupMinSize, subgroupMaxSize: info.subgroupMaxSize,
    adapterFeatures: [...adapter.features].sort(),
    deviceFeatures: [...device.features].sort(),
    limits: adapterLimits(adapter),
    subgroupMatrixConfigs: (info.subgroupMatrixConfigs ?? []).map((c) => ({
      componentType: c.componentType, resultComponentType: c.resultComponentType, M: c.M, N: c.N, K: c.K,
    })),
  };
}

/**
 * The high-performance adapter's device with its maximum limits, or null when there is no
 * adapter (or COENGINE_NO_GPU=1, which tests use to exercise the CPU fallback).
 */
export async function openDevice(): Promise<OpenedDevice | null> {
  if (process.env.COENGINE_NO_GPU === '1') { noDeviceReason = 'COENGINE_NO_GPU=1 is set'; return null; }
  instance ??= create(dawnToggles());
  const adapter = await instance.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) { noDeviceReason = 'Dawn found no adapter (no Vulkan driver?)'; return null; }
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({
    label: 'coengine',
    requiredFeatures,
    requiredLimits: adapterLimits(adapter),
  });
  return { device, adapter, summary: summarise(adapter, device) };
}
