// worker_threads entry for ImageFolder preparation: decodes and resizes a batch of files and
// sends back one contiguous buffer (transferred, not copied). See pool.ts.
import { parentPort } from 'node:worker_threads';
import { loadImageResized } from './decode.js';

export interface DecodeTask { id: number; files: string[]; size: number }
export type DecodeResult = { id: number; data: Uint8Array } | { id: number; error: string };

parentPort!.on('message', (task: DecodeTask) => {
  const per = task.size * task.size * 3;
  const data = new Uint8Array(task.files.length * per);
  try {
    task.files.forEach((f, i) => data.set(loadImageResized(f, task.size), i * per));
    parentPort!.postMessage({ id: task.id, data } satisfies DecodeResult, [data.buffer]);
  } catch (e) {
    parentPort!.postMessage({ id: task.id, error: (e as Error).message } satisfies DecodeResult);
  }
});
