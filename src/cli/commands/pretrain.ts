// `coengine pretrain`: the product's main job.
import { Command, Option } from 'commander';
import { DEFAULTS, PRESETS, loadConfigFile, resolveConfig, type PretrainConfig } from '../../training/config.js';
import { METHOD_NAMES } from '../../methods/method.js';
import { presetNames } from '../../models/presets.js';
import { anyInteger, finiteNumber, positiveInteger } from '../options.js';


export function registerPretrain(program: Command): void {
  program.command('pretrain')
    .description('Self-supervised pretraining (CO-BYOL by default) with an online linear probe. With no flags: CO-BYOL on a small ' +
      'RF-ResNet over the built-in synthetic dataset, sized to the device found, then a linear probe of the trained encoder ' +
      'beside the same encoder at random initialisation and raw pixels.')
    .addOption(new Option('--method <name>', 'SSL method').choices(METHOD_NAMES))
    .addOption(new Option('--arch <name>', 'backbone').choices(presetNames()))
    .option('--width <w>', `backbone channel multiplier (default ${DEFAULTS.width})`, finiteNumber)
    .option('--small-stem', '3×3 stride-1 stem without max-pool (small images)')
    .option('--no-small-stem', 'the preset\'s own stem')
    .option('--data <dir|synthetic>', 'prepared dataset directory (see `coengine data prepare`) or "synthetic" (built in, default)')
    .option('--epochs <n>', 'epochs', anyInteger)
    .option('--batch-size <n>', 'images per step', anyInteger)
    .option('--lr <x>', 'base learning rate, scaled by batch/256', finiteNumber)
    .option('--weight-decay <x>', 'weight decay (not on biases and norm parameters)', finiteNumber)
    .addOption(new Option('--optimizer <kind>', 'optimiser').choices(['lars', 'sgd', 'adamw']))
    .option('--warmup-epochs <n>', 'linear warm-up epochs before the cosine decay', finiteNumber)
    .option('--ws <x>', 'weight w_s of the local loss (CO-* methods)', finiteNumber)
    .option('--local-grid <n>', 'pool the local map to n×n positions before the local heads (0: all positions)', anyInteger)
    .option('--crop-min <x>', 'RandomResizedCrop minimum scale (CO-SSL 0.2, baselines 0.08)', finiteNumber)
    .option('--image-size <px>', 'global view size (default: the dataset\'s image size)', anyInteger)
    .option('--small-crops <n>', 'multi-crop small views (byol-mc, dino-mc)', anyInteger)
    .option('--proj-hidden <n>', 'projector/predictor hidden width', anyInteger)
    .option('--proj-out <n>', 'projection dimension', anyInteger)
    .option('--seed <n>', 'random seed (weights, augmentations, data order)', anyInteger)
    .addOption(new Option('--device <d>', 'backend: auto uses WebGPU when an adapter exists').choices(['auto', 'webgpu', 'cpu']))
    .option('--out <dir>', `run directory: metrics.jsonl, checkpoints, summary.json (default ${DEFAULTS.out})`)
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--checkpoint-every <steps>', 'checkpoint interval in steps (also at every epoch end)', anyInteger)
    .option('--log-every <steps>', 'read back and log metrics every N steps', anyInteger)
    .option('--no-final-eval', 'skip the end-of-run linear evaluation')
    .option('--no-step-replay', 'record every step\'s GPU commands anew instead of replaying them once two steps in a row ' +
      'recorded the same (the results are identical; replay only saves host time)')
    .addOption(new Option('--preset <name>', 'the paper\'s settings for a dataset').choices(Object.keys(PRESETS)))
    .option('--tune-gemm', 'WebGPU: before training, time the step\'s GEMMs under each candidate tile (fourteen steps on the first ' +
      'batch; weights, optimiser and random states are restored afterwards) and train with the fastest per GEMM shape; the table ' +
      'is kept in OUT/gemm-tuning.json and reused while the adapter and the step\'s shapes (method, backbone, batch, sizes, heads) stay the same')
    .option('--config <file>', 'JSON file of configuration fields (applied after --preset, before flags)')
    .option('--max-steps <n>', 'stop after this many steps (a checkpoint is written; --resume continues)', positiveInteger)
    .option('--quiet', 'no progress bar')
    .option('--json', 'print summary.json to stdout at the end')
    .action(async (o) => {
      const { pretrain } = await import('../../training/pretrain.js');
      const { initBackend, describeBackend } = await import('../../backend/registry.js');
      const flags: Partial<PretrainConfig> = {
        method: o.method, arch: o.arch, width: o.width, smallStem: o.smallStem, data: o.data, epochs: o.epochs, batchSize: o.batchSize,
        lr: o.lr, weightDecay: o.weightDecay, optimizer: o.optimizer, warmupEpochs: o.warmupEpochs, ws: o.ws, localGrid: o.localGrid,
        cropMin: o.cropMin, imageSize: o.imageSize, smallCrops: o.smallCrops, projHidden: o.projHidden, predHidden: o.projHidden,
        projOut: o.projOut, seed: o.seed, device: o.device, out: o.out, checkpointEvery: o.checkpointEvery, logEvery: o.logEvery,
        finalEval: o.finalEval === false ? false : undefined, stepReplay: o.stepReplay === false ? false : undefined,
        tuneGemm: o.tuneGemm ? true : undefined,
      };
      const preset = o.preset ? PRESETS[o.preset] : {};
      const file = o.config ? loadConfigFile(o.config) : {};
      let layers: Partial<PretrainConfig>[] = [preset, file, flags];
      if (!o.preset && !o.config && !o.resume) {
        // Built-in defaults, sized to the device found.
        const backend = await initBackend(o.device ?? 'auto', { quiet: true });
        layers = [sizedDefaults(backend.name, (await describeBackend(backend)).software), ...layers];
      }
      if (o.resume) {
        const { readRunState } = await import('../../training/checkpoint.js');
        const st = readRunState(o.out ?? DEFAULTS.out);
        layers = [st.config as Partial<PretrainConfig>, { out: o.out ?? DEFAULTS.out }];
      }
      const cfg = resolveConfig(layers);
      const s = await pretrain(cfg, { resume: !!o.resume, maxSteps: o.maxSteps, quiet: !!o.quiet });
      if (o.json) process.stdout.write(JSON.stringify(s, null, 2) + '\n');
      else {
        process.stdout.write(`${s.method} ${s.arch}: ${s.steps} steps, online probe ${(100 * s.onlineProbeAcc).toFixed(1)}%` +
          (s.patchProbeAcc !== null ? ` (patch ${(100 * s.patchProbeAcc).toFixed(1)}%)` : '') +
          `, ${s.imagesPerSecond.toFixed(1)} img/s on ${s.device}\n`);
        if (s.finalEval) {
          const f = s.finalEval;
          process.stdout.write(`linear probe: trained ${(100 * f.trained).toFixed(1)}% | random init ${(100 * f.randomInit).toFixed(1)}% | raw pixels ${(100 * f.rawPixels).toFixed(1)}%\n`);
        }
        process.stdout.write(`run directory: ${cfg.out}\n`);
      }
    });
}

/**
 * Defaults sized to the device: a software rasteriser or the CPU backend gets a run that ended
 * within 10 minutes on the 2-core hosts it was sized on (lavapipe 7.1–7.6 min, CPU backend
 * 7.9 min; on the slower host of the seventeenth session the same code took 14 min on lavapipe,
 * 1.9 s/step, and 6.5 s/step on the CPU backend, 4.5 s/step once its convolutions stopped calling
 * a callback per tap); a real GPU gets a longer run meant to learn a good representation.
 */
function sizedDefaults(backend: string, software: boolean): Partial<PretrainConfig> {
  // RF29-ResNet10 at 1/16 width on the native 32 px images: ≈0.75 s/step on lavapipe, ≈3.2 s
  // on the CPU backend (batch 32). τ₀ = 0.97: the target lags ≈ 1/(1 − τ) steps, 100 at BYOL's
  // 0.99, which is 40% of a 240-step run; with 0.97 the software run learned clearly more. 5
  // epochs (400 steps) on lavapipe: over seeds 0–3 the trained encoder beat its random
  // initialisation by 1.5, 15.4, 8.7 and 3.7 points (seeds 0–2 after 3 epochs: −3.1, 12.9, 1.5;
  // bench/RESULTS.md).
  const small = { arch: 'rf29-resnet10', width: 0.0625, syntheticTest: 2000, batchSize: 32, projHidden: 128, predHidden: 128,
    projOut: 64, warmupEpochs: 1, finalEvalEpochs: 20, checkpointEvery: 100, tauBase: 0.97 };
  if (backend === 'cpu') return { ...small, syntheticTrain: 1920, epochs: 2 };
  if (software) return { ...small, syntheticTrain: 2560, epochs: 5 };
  return { width: 0.5, syntheticTrain: 20000, syntheticTest: 4000, epochs: 30, batchSize: 256, projHidden: 1024, predHidden: 1024, projOut: 256,
    warmupEpochs: 3, finalEvalEpochs: 30 };
}
