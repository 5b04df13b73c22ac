// `coengine data prepare|info|verify`: build and inspect prepared data sets (data-tools/FORMAT.md).
import { Command, Option } from 'commander';
import { prepareDataset } from '../../data/prepare.js';
import { readMeta, verifyDataset } from '../../data/reader.js';
import type { DatasetMeta, SourceFormat } from '../../data/format.js';
import { positiveInteger, nonNegativeInteger } from '../options.js';


export function summary(meta: DatasetMeta) {
  return {
    name: meta.name,
    classes: meta.classes,
    shape: meta.shape,
    splits: Object.fromEntries(Object.entries(meta.splits).map(([k, s]) => [k, { count: s.count }])),
    mean: meta.mean,
    std: meta.std,
  };
}

function printSummary(meta: DatasetMeta, dir: string): void {
  const s = summary(meta);
  const classes = s.classes.length <= 12 ? s.classes.join(', ') : `${s.classes.slice(0, 10).join(', ')}, … (${s.classes.length - 10} more)`;
  const fmt = (v: number[]) => `[${v.map((x) => x.toFixed(4)).join(', ')}]`;
  const lines = [
    `${dir}: ${s.name}`,
    `  shape    ${s.shape.join('×')} (h×w×c, uint8 NHWC)`,
    `  classes  ${s.classes.length}: ${classes}`,
    ...Object.entries(s.splits).map(([k, v]) => `  ${k.padEnd(8)} ${v.count} images`),
    `  mean     ${fmt(s.mean)}`,
    `  std      ${fmt(s.std)}`,
    `  source   ${meta.source.format}${meta.source.path ? ` (${meta.source.path})` : ''}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
}

export function registerData(program: Command): void {
  const data = program.command('data').description('prepare and inspect data sets (prepared format: data-tools/FORMAT.md)');

  data.command('prepare')
    .description('convert a data set (IDX, CIFAR binary, ImageFolder of JPEG/PNG, or the built-in synthetic set) to the prepared format')
    .argument('[src]', 'source: IDX directory, CIFAR .tar.gz / directory, or ImageFolder root (not used for synthetic)')
    .addOption(new Option('--format <format>', 'source format').choices(['idx', 'cifar', 'imagefolder', 'synthetic']).makeOptionMandatory())
    .requiredOption('--out <dir>', 'output directory (written to a temporary directory first, renamed when complete)')
    .option('--size <n>', 'resize images to n×n (centre square crop + area/bilinear); required for imagefolder', positiveInteger)
    .option('--name <name>', 'data set name recorded in meta.json (default: derived from the source)')
    .option('--workers <k>', 'image decoding threads for imagefolder (default: number of CPU cores)', positiveInteger)
    .option('--seed <s>', 'random seed of the synthetic images and of --train/--test subsets', nonNegativeInteger, 0)
    .option('--train <n>', 'synthetic: number of train images (default 50000); other formats: keep a seeded random subset of n', positiveInteger)
    .option('--test <n>', 'synthetic: number of test images (default 10000); other formats: keep a seeded random subset of n', positiveInteger)
    .option('--force', 'replace --out if it already exists', false)
    .option('--quiet', 'no progress output on stderr', false)
    .option('--json', 'print the summary as JSON on stdout', false)
    .action(async (src: string | undefined, o: {
      format: SourceFormat; out: string; size?: number; name?: string; workers?: number; seed: number;
      train?: number; test?: number; force: boolean; quiet: boolean; json: boolean;
    }) => {
      const t0 = Date.now();
      const meta = await prepareDataset({
        format: o.format, src, out: o.out, size: o.size, name: o.name, workers: o.workers, seed: o.seed,
        train: o.train, test: o.test, force: o.force, progress: !o.quiet,
      });
      if (o.json) process.stdout.write(JSON.stringify(summary(meta)) + '\n');
      else {
        printSummary(meta, o.out);
        if (!o.quiet) process.stderr.write(`prepared in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
      }
    });

  data.command('info')
    .description('show name, classes, shape, split sizes and per-channel mean/std of a prepared data set')
    .argument('<dir>', 'prepared data set directory')
    .option('--json', 'print as JSON', false)
    .option('--verify', 'also check file sizes and CRC-32 checksums', false)
    .action((dir: string, o: { json: boolean; verify: boolean }) => {
      const meta = o.verify ? verifyDataset(dir) : readMeta(dir);
      if (o.json) process.stdout.write(JSON.stringify(summary(meta)) + '\n');
      else {
        printSummary(meta, dir);
        if (o.verify) process.stdout.write(`  checksum ok (crc32 ${meta.checksum.value})\n`);
      }
    });
}
