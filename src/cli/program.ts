// The `coengine` command tree. Each subcommand lives in commands/<name>.ts and registers itself
// here; main.ts parses the process arguments with it (tests walk the tree).
import { Command } from 'commander';
import { registerInfo } from './commands/info.js';
import { registerArch } from './commands/arch.js';
import { registerFlops } from './commands/flops.js';
import { registerData } from './commands/data.js';
import { registerPretrain } from './commands/pretrain.js';
import { registerEval } from './commands/eval.js';
import { registerReport } from './commands/report.js';
import { registerPlot } from './commands/plot.js';
import { registerBench } from './commands/bench.js';
import { registerBenchStep } from './commands/bench_step.js';
import { registerBenchData } from '../../bench/data.js';
import { registerBenchPipelineStats } from '../../bench/pipeline_stats.js';
import { enableDawnToggle } from '../backend/webgpu/device.js';
import { enablePipelineStats } from '../backend/webgpu/pipeline_stats.js';
import '../backend/webgpu/ops/gemm.js'; // registers the tile names a tuning table may use
import { loadGemmTuning, setGemmTuning } from '../backend/webgpu/ops/gemm_tuning.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('coengine')
    .description('WebGPU tensor/autograd engine for CO-SSL self-supervised vision training (Dawn on Node.js).')
    .version('0.1.0')
    .option('--no-robustness', 'run the kernels without the bounds clamps Dawn adds to every memory access (on an ' +
      'H100: a ~5% faster training step, ~6% faster GEMMs; bench/RESULTS.md). The kernels index in bounds by construction and pass ' +
      'their parity tests without the clamps; an indexing bug would then read arbitrary memory instead of a clamped ' +
      'element.')
    .option('--gemm-tuning <file>', 'choose GEMM tiles by a tuning table measured on this GPU (made by bench step --tune FILE; ' +
      'as COENGINE_GEMM_TUNING=FILE): per GEMM shape the tile that was fastest there, the heuristic for shapes it lacks')
    .option('--pipeline-stats <file>', 'append what the GPU driver made of each compute pipeline to FILE, one JSON line ' +
      'per pipeline (label: kernel file, entry point, GEMM tile, override constants; the driver\'s statistics, e.g. ' +
      'registers per thread and spills, where it reports VK_KHR_pipeline_executable_properties: NVIDIA does, lavapipe ' +
      'does not, and its lines say "executables": null; `coengine bench pipeline-stats FILE` shows them). Linux/Vulkan; needs the layer built once: bash bench/vk-stats/build.sh')
    .showHelpAfterError()
    // Before any command opens a device (Dawn takes its toggles when the instance is created).
    .hook('preAction', () => {
      const o = program.opts<{ robustness?: boolean; gemmTuning?: string; pipelineStats?: string }>();
      if (o.robustness === false) enableDawnToggle('disable_robustness');
      if (o.pipelineStats) enablePipelineStats(o.pipelineStats);
      if (o.gemmTuning) setGemmTuning(loadGemmTuning(o.gemmTuning)); // checked now, not at the first GEMM
    });
  registerInfo(program);
  registerArch(program);
  registerFlops(program);
  registerData(program);
  registerPretrain(program);
  registerEval(program);
  registerReport(program);
  registerPlot(program);
  const bench = registerBench(program);
  registerBenchStep(bench);
  registerBenchData(bench);
  registerBenchPipelineStats(bench);
  return program;
}
