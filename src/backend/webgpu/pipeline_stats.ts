// `coengine --pipeline-stats FILE`: what the GPU driver made of each compute pipeline (registers
// per thread, spills, instruction counts: whatever VK_KHR_pipeline_executable_properties gives on
// that driver), one JSON line per pipeline, labelled `kernels/<file>:<entry> <tile> {constants}`.
// The work is done by a Vulkan layer (bench/vk-stats/pipeline_stats_layer.c) that the loader
// puts under Dawn; this file only switches it on, before the first device is opened. Tiles whose
// definitions are identical (shared64pw and shared64p's warp twin) share one pipeline in the
// runtime's cache, reported under the name it was first built with.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BackendError } from '../../runtime/errors.js';
import { packageRoot } from './kernel_source.js';
import { enableDawnToggle } from './device.js';

export const PIPELINE_STATS_LAYER = 'VK_LAYER_COENGINE_pipeline_stats';

/** The folder of the layer's manifest, and its library (built by bench/vk-stats/build.sh). */
export function pipelineStatsLayer(): { dir: string; library: string } {
  const dir = join(packageRoot(), 'bench', 'vk-stats');
  return { dir, library: join(dir, 'build', 'libVkLayer_coengine_pipeline_stats.so') };
}

/**
 * Append every compute pipeline's driver statistics to `file` (JSON lines) from now on. Must run
 * before the process opens its first WebGPU device: the Vulkan loader reads its layer settings
 * when Dawn creates its instance. Linux only (the layer is a shared library for the loader).
 */
export function enablePipelineStats(file: string): void {
  const { dir, library } = pipelineStatsLayer();
  if (process.platform !== 'linux') throw new BackendError('--pipeline-stats: the statistics layer is built for Linux\'s Vulkan loader only');
  if (!existsSync(library)) {
    throw new BackendError(`--pipeline-stats: the Vulkan layer is not built (${library} is missing): ` +
      'run bash bench/vk-stats/build.sh (needs gcc and the Vulkan headers, Debian package libvulkan-dev)');
  }
  const prepend = (name: string, value: string, sep: string) => {
    const old = process.env[name];
    process.env[name] = old ? `${value}${sep}${old}` : value;
  };
  prepend('VK_LAYER_PATH', dir, ':');
  prepend('VK_INSTANCE_LAYERS', PIPELINE_STATS_LAYER, ':');
  process.env.COENGINE_VK_STATS_FILE = resolve(file);
  // Dawn passes our shader-module labels to the driver only with this toggle; the layer reports
  // each pipeline under its module's label.
  enableDawnToggle('use_user_defined_labels_in_backend');
}
