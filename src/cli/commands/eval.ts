// `coengine eval RUN`: linear probes and the paper's robustness and representation analyses
// (SPEC §7) of a pretrained encoder; JSON lines in RUN/eval.jsonl, a summary on stderr.
import { Command, InvalidArgumentError, Option } from 'commander';
import { CORRUPTIONS, type CorruptionName } from '../../eval/corruptions.js';
import { ANALYSES, EVAL_DEFAULTS, type Analysis, type EvalOptions } from '../../eval/evaluate.js';
import { FEATURE_KINDS } from '../../eval/features.js';
import type { PgdAttack } from '../../eval/pgd.js';
import { presetNames } from '../../models/presets.js';
import { nonNegativeInteger, positiveInteger, positiveNumber } from '../options.js';

/** "a,b,c" → names, each one of `allowed` ("all": every one). */
export function nameList<T extends string>(what: string, allowed: readonly T[]): (v: string) => T[] {
  return (v) => {
    const names = v.split(',').map((s) => s.trim()).filter(Boolean);
    if (names.length === 1 && names[0] === 'all') return [...allowed];
    const bad = names.filter((n) => !allowed.includes(n as T));
    if (!names.length || bad.length) throw new InvalidArgumentError(`Expected a comma-separated list of ${what} (or all): ${allowed.join(', ')}${bad.length ? `; not ${bad.join(', ')}` : ''}.`);
    return names as T[];
  };
}

/** "0.5,0.9" → shares in [0, 1). */
function fractionList(v: string): number[] {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (!xs.length || xs.some((x) => !(x >= 0 && x < 1))) throw new InvalidArgumentError('Expected comma-separated shares in [0, 1), e.g. 0.9,0.5.');
  return xs;
}

/** "EPS[/D][xN],…": L∞ radius EPS, step EPS/D (default 40), N iterations (default 1). */
export function attackList(v: string): PgdAttack[] {
  return v.split(',').map((s) => {
    const m = /^\s*([0-9.eE+-]+)(?:\/([0-9.eE+-]+))?(?:x(\d+))?\s*$/.exec(s);
    const eps = m ? Number(m[1]) : NaN, d = m?.[2] ? Number(m[2]) : 40, n = m?.[3] ? Number(m[3]) : 1;
    if (!m || !(eps > 0 && eps <= 1) || !(d > 0) || !(n >= 1)) {
      throw new InvalidArgumentError(`Expected attacks as EPS[/D][xN] (radius EPS in (0, 1], step EPS/D, N iterations), e.g. 0.003/40x1,0.01/10x5; not "${s}".`);
    }
    return { eps, step: eps / d, iterations: n };
  });
}

export function registerEval(program: Command): void {
  const d = EVAL_DEFAULTS;
  program.command('eval')
    .description('Evaluate a pretrained encoder (the online backbone of a `coengine pretrain` run directory) as in the CO-SSL paper: ' +
      'linear probes (global, patch, raw pixels), layer-wise probes (layer3 / layer4 / final), accuracy under the ImageNet-C ' +
      'noise and blur corruptions (severities 1-5, CIFAR-10-C constants for images up to 64 px), under internal masking of ' +
      'local representations, and under L-infinity PGD attacks; local/global representation similarity and effective ' +
      'receptive fields. One probe per representation is trained on clean training features; the robustness measures ' +
      'score that probe on altered test images or features. Results: one JSON line per figure in RUN/eval.jsonl.')
    .argument('[run]', 'run directory (state.json + checkpoint) of coengine pretrain, or its checkpoint file')
    .option('--random-init', 'evaluate the run\'s architecture at random initialisation (seeded as the run) instead of its weights')
    .addOption(new Option('--arch <name>', 'without a run: evaluate this backbone at random initialisation').choices(presetNames()))
    .option('--width <w>', 'without a run: channel multiplier', positiveNumber)
    .option('--small-stem', 'without a run: 3×3 stride-1 stem without max-pool')
    .option('--data <dir|synthetic>', 'dataset (prepared directory or "synthetic"); default the run\'s')
    .addOption(new Option('--analyses <list>', `comma-separated, or all: ${ANALYSES.join(', ')}`).argParser(nameList('analyses', ANALYSES)).default([...ANALYSES], 'all'))
    .addOption(new Option('--feature <kind>', 'representation the corruption, masking and PGD analyses probe (pooled: the "patch" mean of the ' +
      'local map; global: after the RF-ResNet MLP when there is one)').choices(FEATURE_KINDS).default(d.feature))
    .option('--train-limit <n>', 'training images for the probes', positiveInteger, d.trainLimit)
    .option('--test-limit <n>', 'test images for each measure', positiveInteger, d.testLimit)
    .option('--probe-epochs <n>', 'epochs of each linear probe (default: the run\'s final-evaluation epochs, so the linear figures repeat the ones pretrain printed)', positiveInteger)
    .addOption(new Option('--corruptions <list>', `comma-separated, or all: ${CORRUPTIONS.join(', ')}`).argParser(nameList<CorruptionName>('corruptions', CORRUPTIONS)).default([...d.corruptions], 'all'))
    .addOption(new Option('--corruption-table <t>', 'severity constants: auto (cifar for images ≤ 64 px, else imagenet)').choices(['auto', 'imagenet', 'cifar']).default(d.corruptionTable))
    .addOption(new Option('--mask-fractions <list>', 'shares of local positions dropped before pooling').argParser(fractionList).default([...d.maskFractions], d.maskFractions.join(',')))
    .addOption(new Option('--attacks <list>', 'PGD attacks EPS[/D][xN]: radius EPS in [0,1] pixel units, step EPS/D (D 40 unless given), N iterations (1 unless given)')
      .argParser(attackList).default([...d.attacks], 'the paper\'s Table 4: 0.003,0.01,0.03,0.1,0.003x5,0.01x5,0.003/10,0.01/10'))
    .option('--pgd-limit <n>', 'test images attacked', positiveInteger, d.pgdLimit)
    .option('--no-pgd-random-start', 'start each attack at the image instead of a uniform point of the ε-ball (Foolbox\'s default)')
    .option('--pairs <n>', 'random image pairs for the local/global similarity', positiveInteger, d.pairs)
    .option('--erf-images <n>', 'test images for the effective receptive fields', positiveInteger, d.erfImages)
    .option('--seed <n>', 'seed of the probes, corruptions, masks, attacks and pairs (default: the run\'s)', nonNegativeInteger)
    .addOption(new Option('--device <d>', 'backend: auto uses WebGPU when an adapter exists').choices(['auto', 'webgpu', 'cpu']).default('auto'))
    .option('--out <file>', 'JSON-lines output (default RUN/eval.jsonl, or eval.jsonl without a run)')
    .option('--quiet', 'no progress or summary on stderr')
    .option('--json', 'also print the records to stdout as one JSON array')
    .action(async (run: string | undefined, o) => {
      if (!run && !o.arch) throw new Error('give a run directory, or --arch NAME to evaluate a backbone at random initialisation');
      const { initBackend } = await import('../../backend/registry.js');
      const { evaluate, EvalLog } = await import('../../eval/evaluate.js');
      const path = await import('node:path');
      const backend = await initBackend(o.device);
      const opts: EvalOptions = {
        ...d, run: run ?? null, randomInit: !!o.randomInit, arch: o.arch, width: o.width, smallStem: o.smallStem, data: o.data,
        analyses: o.analyses as Analysis[], feature: o.feature, trainLimit: o.trainLimit, testLimit: o.testLimit, probeEpochs: o.probeEpochs,
        corruptions: o.corruptions, corruptionTable: o.corruptionTable, maskFractions: o.maskFractions, attacks: o.attacks, pgdLimit: o.pgdLimit,
        pgdRandomStart: o.pgdRandomStart !== false, pairs: o.pairs, erfImages: o.erfImages, seed: o.seed, quiet: !!o.quiet,
      };
      const out = o.out ?? (run ? path.join(run.endsWith('.safetensors') ? path.dirname(run) : run, o.randomInit ? 'eval-random-init.jsonl' : 'eval.jsonl') : 'eval.jsonl');
      const log = new EvalLog(out);
      const records: unknown[] = [];
      await evaluate(opts, backend, (r) => { log.write(r); records.push(r); });
      log.close();
      if (o.json) process.stdout.write(JSON.stringify(records, null, 2) + '\n');
      if (!o.quiet) process.stderr.write(`results: ${out}\n`);
    });
}
