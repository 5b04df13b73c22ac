// Replaying a training step's GPU commands instead of recording them again (what CUDA graphs do
// for PyTorch). Recording a ResNet-50 step runs autograd, shape checks and kernel selection for
// about 930 dispatches: ~17 ms of host time per step, most of it JavaScript. Issuing the same
// commands from a log takes a few milliseconds.
//
// The contract for `body`, which a replay cannot check:
// - Everything that varies between steps reaches it through tensors written before run()
//   (batch indices, augmentation parameters, learning rates: Backend.write), or through `key`,
//   which must change whenever the body would record different work for the same tensors.
//   A number the body bakes into its work (a uniform, an upload, a branch) is frozen into the
//   plan the first time two steps in a row agree on it.
// - It does not read back, submit or write() (any of which makes its log unusable: it records).
// - It returns tensors it created; run() hands back copies and disposes them.
// Every body run is logged; when a run logs exactly what the run before it logged (same key),
// the log becomes a plan and later runs with that key replay it. With the memory plan on
// (backend/webgpu/memory_plan.ts: recorded steps take buffers planned from an earlier step's
// allocations), only once a step has run on the buffers the steps after it will have. A step
// that keeps varying keeps recording (slow, not wrong). As a check on the contract, every `checkEvery`-th replay records
// instead and compares the work with the plan's: a difference means some value was frozen, and
// replay is switched off with a warning (steps since the last check may have used it). The
// check compares kernels, grids and bytes, not buffers: a body that switched which long-lived
// tensor it reads, under the same key, would pass it.
import type { Backend } from '../backend/backend.js';
import type { GpuStorage } from '../backend/webgpu/context.js';
import type { GpuRuntime } from '../backend/webgpu/runtime.js';
import { sameLog, sameWork, type StepLog, type StepPlan } from '../backend/webgpu/step_log.js';
import { StepMemoryPlanner, type AllocTrace, type StepMemoryStats } from '../backend/webgpu/memory_plan.js';
import { Tensor } from '../tensor.js';
import type { DType } from '../runtime/dtype.js';

interface PlannedOutput { name: string; buffer: GPUBuffer; offset: number; bytes: number; shape: readonly number[]; dtype: DType }

export interface StepReplayStats { recorded: number; replayed: number; plans: number; checks: number }

export interface StepReplayOptions {
  /** false: always record (the reference behaviour, and a switch for users). */
  enabled?: boolean;
  /** Record every n-th step of a plan instead of replaying it, to compare (0: never). */
  checkEvery?: number;
  /** Where a failed check is reported (default: a warning on stderr). */
  warn?: (message: string) => void;
  /**
   * Plan each recorded step's buffers from the step before (memory_plan.ts), with or without
   * replay; default on, off with COENGINE_MEMORY_PLAN=0 (A/B runs).
   */
  memoryPlan?: boolean;
}

export class StepReplay {
  private runtime: GpuRuntime | null;
  private readonly memory: StepMemoryPlanner | null;
  private previous: { key: string; log: StepLog } | null = null;
  private plan: { key: string; plan: StepPlan; outputs: PlannedOutput[] } | null = null;
  /** The work of a plan given up for a check, and its key: the next recording must match it. */
  private checking: { key: string; log: StepLog } | null = null;
  /** Replays since the last check, across plans (evaluation drops a plan every epoch). */
  private sinceCheck = 0;
  private readonly checkEvery: number;
  private readonly warn: (message: string) => void;
  readonly stats: StepReplayStats = { recorded: 0, replayed: 0, plans: 0, checks: 0 };

  constructor(private readonly backend: Backend, o: StepReplayOptions = {}) {
    const rt = backend.name === 'webgpu' ? (backend as unknown as { runtime: GpuRuntime }).runtime : null;
    this.runtime = (o.enabled ?? true) ? rt : null;
    this.memory = rt && (o.memoryPlan ?? process.env.COENGINE_MEMORY_PLAN !== '0') ? new StepMemoryPlanner(rt) : null;
    this.checkEvery = o.checkEvery ?? 200;
    this.warn = o.warn ?? ((m) => process.stderr.write(`coengine: ${m}\n`));
  }

  get enabled(): boolean { return this.runtime !== null; }

  /** How the recorded steps' memory was planned (null: not planned). */
  get memoryStats(): StepMemoryStats | null { return this.memory?.stats ?? null; }

  /** The last recorded step's memory trace (what the next plan is made from); null without a memory plan. */
  get lastMemoryTrace(): AllocTrace | null { return this.memory?.lastTrace ?? null; }

  run(key: string, body: () => Record<string, Tensor>): Record<string, Tensor> {
    const rt = this.runtime;
    if (!rt) return this.recordOnly(body);
    const plan = this.plan;
    let check: StepLog | null = null;
    if (plan && plan.key === key) {
      if (this.checkEvery > 0 && this.sinceCheck >= this.checkEvery) check = plan.plan.log;
      else if (rt.replay(plan.plan)) {
        this.stats.replayed++;
        this.sinceCheck++;
        return this.copies(rt, plan.outputs);
      }
    }
    if (this.plan) this.invalidate(); // a check, another key, or an input storage was released
    if (check) { this.checking = { key, log: check }; this.sinceCheck = 0; }
    this.memory?.begin();
    const logging = rt.startLog();
    let out: Record<string, Tensor>;
    try { out = body(); } catch (e) { rt.endLog(); this.memory?.end(false); this.previous = null; this.checking = null; throw e; }
    this.stats.recorded++;
    const log = logging ? rt.endLog() : null;
    const outputs: PlannedOutput[] = Object.entries(out).map(([name, t]) => {
      const s = t.storage as GpuStorage;
      return { name, buffer: s.buffer, offset: s.offset ?? 0, bytes: s.bytes, shape: t.shape, dtype: t.dtype };
    });
    // Copied out first (recorded after the step, outside its log), then released, so that the
    // plan made below owns their buffers.
    const copies = this.copies(rt, outputs);
    for (const t of Object.values(out)) t.dispose();
    this.memory?.end();
    if (this.checking) {
      if (log) this.check(key, log);
      this.checking = null; // a step that could not be logged (timing, profiling) is not checked
    }
    const previous = this.previous;
    this.previous = log ? { key, log } : null;
    if (this.runtime && log && previous && previous.key === key && (this.memory?.settled ?? true) && sameLog(previous.log, log)) {
      // Two identical steps in a row: this one becomes the plan (once on the memory plan's buffers, when one is coming).
      const adopted = rt.adopt(log);
      if (adopted) {
        this.plan = { key, plan: adopted, outputs };
        this.previous = null;
        this.stats.plans++;
      }
    }
    return copies;
  }

  /** Every step recorded (replay off): the memory plan still applies (outputs, held past the step, are the pool's). */
  private recordOnly(body: () => Record<string, Tensor>): Record<string, Tensor> {
    this.stats.recorded++;
    const memory = this.memory;
    if (!memory) return body();
    memory.begin();
    let out: Record<string, Tensor>;
    try { out = body(); } catch (e) { memory.end(false); throw e; }
    memory.end();
    return out;
  }

  /** Drop the plan (its buffers go back to the pool) and start over with the next run. */
  invalidate(): void {
    if (this.plan) this.runtime?.releasePlan(this.plan.plan);
    this.plan = null;
    this.previous = null;
    this.checking = null;
  }

  /**
   * invalidate(), and hand the memory plan's buffers to the pool too: for work between steps
   * (evaluation) to use instead of creating more. The next step rebuilds the plan.
   */
  releaseMemory(): void {
    this.invalidate();
    this.memory?.release();
  }

  private check(key: string, log: StepLog): void {
    const was = this.checking!;
    if (was.key !== key) return;
    this.stats.checks++;
    if (sameWork(was.log, log)) return;
    this.warn('step replay: a step recorded different work than the plan it replayed (a value that changes ' +
      'between steps was not written into a tensor before the step); recording every step from now on. Please report this.');
    this.invalidate();
    this.runtime = null;
  }

  /** Copies from a pool of their own: results held across steps never shift the next step's buffers. */
  private copies(rt: GpuRuntime, outputs: PlannedOutput[]): Record<string, Tensor> {
    const r: Record<string, Tensor> = {};
    for (const o of outputs) r[o.name] = new Tensor(this.backend, rt.copyOut(o.buffer, o.offset, o.bytes), o.shape, o.dtype);
    return r;
  }
}
