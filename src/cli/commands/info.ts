// `coengine info`: which backend runs, and what the WebGPU adapter offers (vendor, features,
// the limits that shape kernels, subgroup-matrix configs). --json prints JSON only on stdout.
import type { Command } from 'commander';
import { createWebGpuBackend, whyNoWebGpu } from '../../backend/webgpu/index.js';
import { dawnToggles } from '../../backend/webgpu/device.js';
import { gemmTuning, measuredHere } from '../../backend/webgpu/ops/gemm_tuning.js';
import type { GpuContext } from '../../backend/webgpu/context.js';

/** The GEMM tuning table in effect (--gemm-tuning, COENGINE_GEMM_TUNING), and whether this adapter is the one it was measured on. */
function tuningSummary(ctx: GpuContext): { workload: string; device: string; created: string; sites: number; appliesHere: boolean } | null {
  const t = gemmTuning();
  if (!t) return null;
  return { workload: t.workload, device: t.device, created: t.created, sites: Object.keys(t.sites).length, appliesHere: measuredHere(t, ctx) };
}

const KEY_LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage', 'minStorageBufferOffsetAlignment',
];

export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('Show the compute backend (WebGPU adapter or CPU fallback), its features and key limits.')
    .option('--json', 'print one JSON object on stdout (nothing else is written to stdout)')
    .option('--all-limits', 'list every adapter limit, not only the ones that shape kernels')
    .action(async (opts: { json?: boolean; allLimits?: boolean }) => {
      const handle = await createWebGpuBackend();
      if (!handle) {
        const reason = whyNoWebGpu() || 'no adapter';
        const notice = 'no WebGPU adapter: running on the CPU reference backend (slow). Install a Vulkan driver ' +
          '(e.g. Mesa lavapipe: scripts/setup-ci.sh) for GPU execution.';
        if (opts.json) process.stdout.write(JSON.stringify({ backend: 'cpu', reason, notice }, null, 2) + '\n');
        else process.stdout.write(`backend: cpu\n${notice}\n(${reason})\n`);
        return;
      }
      const a = handle.adapter;
      const limits = Object.fromEntries(Object.entries(a.limits).filter(([k]) => opts.allLimits || KEY_LIMITS.includes(k)));
      const report = {
        backend: 'webgpu',
        adapter: { vendor: a.vendor, architecture: a.architecture, device: a.device, description: a.description,
          isFallbackAdapter: a.isFallbackAdapter, subgroupMinSize: a.subgroupMinSize, subgroupMaxSize: a.subgroupMaxSize },
        deviceFeatures: a.deviceFeatures,
        adapterFeatures: a.adapterFeatures,
        limits,
        subgroupMatrixConfigs: a.subgroupMatrixConfigs,
        dawnToggles: dawnToggles(),
        gemmTuning: tuningSummary(handle.runtime),
      };
      handle.destroy();
      if (opts.json) { process.stdout.write(JSON.stringify(report, null, 2) + '\n'); return; }
      const lines = [
        'backend: webgpu (Dawn)',
        `adapter: ${[a.vendor, a.architecture, a.device].filter(Boolean).join(' / ') || '(unnamed)'}`,
        `description: ${a.description || '-'}${a.isFallbackAdapter ? ' (fallback adapter)' : ''}`,
        `subgroup size: ${a.subgroupMinSize ?? '?'}..${a.subgroupMaxSize ?? '?'}`,
        `device features: ${a.deviceFeatures.join(', ') || '-'}`,
        'limits:',
        ...Object.entries(limits).map(([k, v]) => `  ${k.padEnd(36)} ${v}`),
        `subgroup matrix configs: ${a.subgroupMatrixConfigs.length ? '' : 'none'}`,
        ...a.subgroupMatrixConfigs.map((c) => `  ${c.componentType}→${c.resultComponentType} ${c.M}×${c.N}×${c.K}`),
        `GEMM tuning table: ${!report.gemmTuning ? 'none (the heuristic chooses every tile)' :
          `${report.gemmTuning.sites} shapes tuned for ${report.gemmTuning.workload}` +
          (report.gemmTuning.appliesHere ? '' : ` on another adapter (${report.gemmTuning.device}): not used here`)}`,
      ];
      process.stdout.write(lines.join('\n') + '\n');
    });
}
