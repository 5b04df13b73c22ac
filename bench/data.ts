// `coengine bench data`: augmented images per second of the BYOL view pair (SPEC §6) on the
// current backend, at 32, 64 and 224 px. Sources are resident random u8 images of the usual
// prepared sizes (32² CIFAR, 64² Tiny-ImageNet, 256² for 224-px ImageNet-style crops). Each
// iteration draws the per-image parameters on the host, records both views' kernels and (GPU)
// waits for the device at the end of the timed loop, so the number includes host-side work.
// Also runnable alone: `node dist/bench/data.js [--sizes 32,64,224] [--backend cpu]`.
import type { Command } from 'commander';
import type { Backend } from '../src/backend/backend.js';
import { cpu } from '../src/backend/registry.js';
import { createWebGpuBackend, type WebGpuHandle } from '../src/backend/webgpu/index.js';
import { Tensor } from '../src/tensor.js';
import { Rng } from '../src/runtime/rng.js';
import { augmentBatch } from '../src/data/augment.js';
import { byolViews, sampleParams } from '../src/data/augment_params.js';
import { positiveInteger, positiveNumber } from '../src/cli/options.js';

export interface BenchDataOptions {
  sizes: number[];
  batch: number;
  /** Resident source images (the batch indexes into them). */
  images: number;
  /** Minimum timed seconds per size. */
  seconds: number;
  backend: 'auto' | 'cpu' | 'webgpu';
}

export interface BenchDataRow {
  size: number;
  source: number;
  batch: number;
  iterations: number;
  /** Augmented images (views) per second, both views counted. */
  imagesPerSecond: number;
  /** Host time drawing parameters, per iteration (ms). */
  paramsMs: number;
  /** GPU time of one iteration's kernels when the device has timestamps (ms). */
  gpuMs?: number;
}

const sourceSide = (size: number) => (size <= 32 ? 32 : size <= 64 ? 64 : 256);
const MEAN = [0.485, 0.456, 0.406], STD = [0.229, 0.224, 0.225];

async function openBackend(choice: BenchDataOptions['backend']): Promise<{ backend: Backend; handle: WebGpuHandle | null }> {
  if (choice === 'cpu') return { backend: cpu(), handle: null };
  const handle = await createWebGpuBackend();
  if (handle) return { backend: handle.backend, handle };
  if (choice === 'webgpu') throw new Error('bench data: no WebGPU adapter');
  process.stderr.write('bench data: no WebGPU adapter, measuring the CPU reference\n');
  return { backend: cpu(), handle: null };
}

export async function benchData(opts: BenchDataOptions): Promise<{ device: string; rows: BenchDataRow[] }> {
  const { backend, handle } = await openBackend(opts.backend);
  const device = handle ? `webgpu: ${handle.adapter.description || handle.adapter.device || handle.adapter.vendor}` : 'cpu reference';
  const rows: BenchDataRow[] = [];
  try {
    for (const size of opts.sizes) {
      const side = sourceSide(size);
      const rng = new Rng(size);
      const bytes = new Uint8Array(opts.images * side * side * 3);
      for (let i = 0; i < bytes.length; i += 4) {
        const r = rng.nextU32();
        bytes[i] = r; bytes[i + 1] = r >> 8; bytes[i + 2] = r >> 16; bytes[i + 3] = r >> 24;
      }
      const images = new Tensor(backend, backend.upload(bytes, 'u8'), [opts.images, side, side, 3], 'u8');
      const views = byolViews(size, 0.2, MEAN, STD);
      let paramsTime = 0;
      const iteration = () => {
        const ids = Int32Array.from({ length: opts.batch }, () => rng.int(opts.images));
        const idx = new Tensor(backend, backend.upload(ids, 'i32'), [opts.batch], 'i32');
        for (const spec of views) {
          const t0 = performance.now();
          const prm = sampleParams(rng, opts.batch, side, side, spec);
          paramsTime += performance.now() - t0;
          augmentBatch(images, idx, prm, spec).dispose();
        }
        idx.dispose();
      };
      const sync = async () => { if (handle) await handle.runtime.sync(); };
      iteration(); await sync(); // warm-up: pipelines compiled, pool filled
      paramsTime = 0;
      let iterations = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < opts.seconds * 1000 || iterations < 2) {
        iteration();
        iterations++;
        if (iterations % 4 === 0) await sync();
      }
      await sync();
      const elapsed = (performance.now() - t0) / 1000;
      let gpuMs: number | undefined;
      if (handle) {
        const t = await handle.runtime.timeDispatches(iteration);
        if (t.source === 'timestamps') gpuMs = t.ms;
      }
      images.dispose();
      rows.push({
        size, source: side, batch: opts.batch, iterations,
        imagesPerSecond: (2 * opts.batch * iterations) / elapsed,
        paramsMs: paramsTime / iterations, gpuMs,
      });
    }
  } finally {
    handle?.destroy();
  }
  return { device, rows };
}

export function formatBenchData(r: { device: string; rows: BenchDataRow[] }): string {
  const head = ['size', 'source', 'batch', 'iters', 'views/s (2 views)', 'host params ms/iter', 'GPU ms/iter'];
  const body = r.rows.map((x) => [`${x.size}`, `${x.source}²`, `${x.batch}`, `${x.iterations}`,
    x.imagesPerSecond.toFixed(0), x.paramsMs.toFixed(2), x.gpuMs === undefined ? '-' : x.gpuMs.toFixed(2)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (c: string[]) => c.map((x, i) => x.padStart(widths[i])).join('  ');
  return [`device: ${r.device}`, line(head), ...body.map(line)].join('\n');
}

function parseSizes(v: string): number[] {
  const sizes = v.split(',').map(Number);
  if (!sizes.every((s) => Number.isInteger(s) && s > 0)) throw new Error(`--sizes: expected positive integers, got '${v}'`);
  return sizes;
}

/** Adds `data` under the `bench` command (the lead wires `coengine bench data`). */
export function registerBenchData(bench: Command): void {
  bench
    .command('data')
    .description('Augmented images per second of the BYOL view pair (GPU kernels or the CPU reference)')
    .option('--sizes <list>', 'comma-separated output sizes in pixels', parseSizes, [32, 64, 224])
    .option('--batch <n>', 'images per batch (each gets two views)', positiveInteger, 256)
    .option('--images <n>', 'resident random source images to index', positiveInteger, 1024)
    .option('--seconds <s>', 'minimum timed seconds per size', positiveNumber, 2)
    .option('--backend <name>', 'auto, webgpu or cpu', 'auto')
    .option('--json', 'print the rows as JSON')
    .action(async (o: BenchDataOptions & { json?: boolean }) => {
      const r = await benchData(o);
      process.stdout.write((o.json ? JSON.stringify(r, null, 2) : formatBenchData(r)) + '\n');
    });
}

// Standalone: node dist/bench/data.js [options]
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const { Command } = await import('commander');
  const program = new Command().name('bench');
  registerBenchData(program);
  await program.parseAsync(['node', 'bench', 'data', ...process.argv.slice(2)]);
}
