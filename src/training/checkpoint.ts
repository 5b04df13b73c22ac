// Checkpoints: every tensor of a run (online, target, probes, optimiser state) in one
// .safetensors file named by step, plus state.json (config, position, RNG states) that points
// at it. Both are written to temporary names and renamed; state.json is renamed last, so a run
// killed at any moment resumes from a complete checkpoint.
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Tensor } from '../tensor.js';
import { readSafetensors, toSafeTensor, fromSafeTensor, writeSafetensors, type SafeTensor } from '../io/safetensors.js';
import { writeJsonAtomic } from './metrics.js';

export interface RunState {
  version: 1;
  /** Global optimiser steps completed. */
  step: number;
  /** Epoch in progress (0-based) and steps of it already done. */
  epoch: number;
  stepInEpoch: number;
  rng: Record<string, number[]>;
  optimizerSteps: Record<string, number>;
  checkpoint: string;
  config: unknown;
  /** Elapsed training seconds before this checkpoint (for throughput across resumes). */
  seconds: number;
}

export const STATE_FILE = 'state.json';

export async function saveCheckpoint(dir: string, tensors: Map<string, Tensor>, state: Omit<RunState, 'checkpoint' | 'version'>): Promise<string> {
  const name = `checkpoint-${String(state.step).padStart(8, '0')}.safetensors`;
  const st = new Map<string, SafeTensor>();
  for (const [k, t] of tensors) st.set(k, await toSafeTensor(k, t));
  await writeSafetensors(path.join(dir, name), st, { format: 'coengine-run', step: String(state.step) });
  writeJsonAtomic(path.join(dir, STATE_FILE), { version: 1, ...state, checkpoint: name });
  // Older checkpoints are no longer referenced.
  for (const f of readdirSync(dir)) if (/^checkpoint-\d+\.safetensors$/.test(f) && f !== name) rmSync(path.join(dir, f), { force: true });
  return name;
}

/** The run state of a run directory; `asker` (the flag or command that needs it) starts the error message. */
export function readRunState(dir: string, asker = '--resume'): RunState {
  const file = path.join(dir, STATE_FILE);
  if (!existsSync(file)) {
    throw new Error(`${asker}: ${file} does not exist (${asker === '--resume' ? 'no checkpoint to resume from' : 'not a run directory of coengine pretrain with a checkpoint'})`);
  }
  const s = JSON.parse(readFileSync(file, 'utf8')) as RunState;
  if (s.version !== 1 || typeof s.checkpoint !== 'string') throw new Error(`${file}: not a coengine run state`);
  return s;
}

/** Copy every tensor of the checkpoint into the run's tensors (names and shapes must match). */
export async function loadCheckpoint(dir: string, state: RunState, tensors: Map<string, Tensor>): Promise<void> {
  const file = path.join(dir, state.checkpoint);
  const { tensors: saved } = await readSafetensors(file);
  const missing = [...tensors.keys()].filter((k) => !saved.has(k));
  if (missing.length) throw new Error(`${file}: missing ${missing.length} tensor(s) (${missing.slice(0, 5).join(', ')}…): was it written by another configuration?`);
  const { tensor } = await import('../ops/creation.js');
  for (const [k, t] of tensors) {
    const s = saved.get(k)!;
    if (s.shape.length !== t.shape.length || s.shape.some((d, i) => d !== t.shape[i])) {
      throw new Error(`${file}: ${k} has shape [${s.shape}] but this run expects [${t.shape}]`);
    }
    const src = tensor(fromSafeTensor(k, s, t.dtype), t.shape, { dtype: t.dtype, backend: t.backend });
    t.backend.copyInto(t, 0, src);
    src.dispose();
  }
}
