// Decodes many image files into size×size×3 blocks, in batches, on a pool of worker threads
// (JPEG decoding is CPU-bound and dominates ImageFolder preparation). Results can arrive out of
// order; the callback receives each batch's start index so it can write positionally.
import { Worker } from 'node:worker_threads';
import { loadImageResized } from './decode.js';
import type { DecodeResult, DecodeTask } from './decode-worker.js';
import { DatasetError } from './format.js';

export interface DecodePoolOptions {
  size: number;
  workers: number;
  /** Files per task. */
  batch?: number;
  onBatch: (start: number, data: Uint8Array) => void;
}

export async function decodeFiles(files: string[], opts: DecodePoolOptions): Promise<void> {
  const batch = opts.batch ?? 32;
  const per = opts.size * opts.size * 3;
  const tasks: { start: number; files: string[] }[] = [];
  for (let s = 0; s < files.length; s += batch) tasks.push({ start: s, files: files.slice(s, s + batch) });
  const nWorkers = Math.min(opts.workers, tasks.length);
  if (nWorkers <= 1) {
    // In-process: no worker start-up cost for small jobs or --workers 1.
    for (const t of tasks) {
      const data = new Uint8Array(t.files.length * per);
      t.files.forEach((f, i) => data.set(loadImageResized(f, opts.size), i * per));
      opts.onBatch(t.start, data);
      await new Promise((r) => setImmediate(r)); // let progress output and signals through
    }
    return;
  }
  const url = new URL('./decode-worker.js', import.meta.url);
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0, done = 0, failed = false;
      const fail = (err: Error) => { if (!failed) { failed = true; reject(err); } };
      const dispatch = (w: Worker) => {
        if (next >= tasks.length) return;
        const id = next++;
        w.postMessage({ id, files: tasks[id].files, size: opts.size } satisfies DecodeTask);
      };
      for (let i = 0; i < nWorkers; i++) {
        const w = new Worker(url);
        workers.push(w);
        w.on('message', (r: DecodeResult) => {
          if (failed) return;
          if ('error' in r) { fail(new DatasetError(r.error)); return; }
          try {
            opts.onBatch(tasks[r.id].start, new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength));
          } catch (e) { fail(e as Error); return; }
          if (++done === tasks.length) resolve();
          else dispatch(w);
        });
        w.on('error', (e) => fail(new DatasetError(`image decoding worker failed: ${e.message}`)));
        w.on('exit', (code) => { if (code !== 0 && done < tasks.length) fail(new DatasetError(`image decoding worker exited with code ${code}`)); });
        dispatch(w);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
