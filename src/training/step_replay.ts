// Replaying a training step's GPU commands instead of recording them again (what CUDA graphs do
// for PyTorch). Recording a ResNet-50 step runs autograd, shape checks and kernel selection for
// about 930 dispatches: ~17 ms of host time per step, most of it JavaScript. Issuing the same
// commands from a log takes a few milliseconds.
//
// Contract for `body`: everything that varies between steps reaches it through tensors the
// caller writes before run() (batch indices, augmentation parameters, learning rates: see
// Backend.write), or through `key`, which must change whenever the body would record different
// work for the same tensors (e.g. a schedule that the body reads as a number). The body must not
// read back or submit. Given that, every body run is logged; when a run logs exactly what the
// run before it logged (same key), the log becomes a plan and later runs with that key replay it.
// Anything that still differs shows up as two unequal logs and the step simply keeps recording,
// so a body that breaks the contract by varying every step is slow, not wrong.
import type { Backend } from '../backend/backend.js';
import type { GpuStorage } from '../backend/webgpu/context.js';
import type { GpuRuntime } from '../backend/webgpu/runtime.js';
import { sameLog, type StepLog, type StepPlan } from '../backend/webgpu/step_log.js';
import { Tensor } from '../tensor.js';
import type { DType } from '../runtime/dtype.js';

interface PlannedOutput { name: string; buffer: GPUBuffer; offset: number; bytes: number; shape: readonly number[]; dtype: DType }

export interface StepReplayStats { recorded: number; replayed: number; plans: number }

export class StepReplay {
  private readonly runtime: GpuRuntime | null;
  private previous: { key: string; log: StepLog } | null = null;
  private plan: { key: string; plan: StepPlan; outputs: PlannedOutput[] } | null = null;
  readonly stats: StepReplayStats = { recorded: 0, replayed: 0, plans: 0 };

  /** enabled = false: always record (the reference behaviour, and a switch for users). */
  constructor(private readonly backend: Backend, enabled = true) {
    this.runtime = enabled && backend.name === 'webgpu' ? (backend as unknown as { runtime: GpuRuntime }).runtime : null;
  }

  /** Whether the next run with this key would be a replay. */
  willReplay(key: string): boolean { return this.plan?.key === key; }

  run(key: string, body: () => Record<string, Tensor>): Record<string, Tensor> {
    const rt = this.runtime;
    if (!rt) { this.stats.recorded++; return body(); }
    if (this.plan && this.plan.key === key) {
      if (rt.replay(this.plan.plan)) {
        this.stats.replayed++;
        return this.copies(rt, this.plan.outputs);
      }
    }
    if (this.plan) this.invalidate(); // another key, or an input storage was released
    const logging = rt.startLog();
    let out: Record<string, Tensor>;
    try { out = body(); } catch (e) { rt.endLog(); this.previous = null; throw e; }
    this.stats.recorded++;
    const log = logging ? rt.endLog() : null;
    const previous = this.previous;
    this.previous = log ? { key, log } : null;
    const outputs: PlannedOutput[] = Object.entries(out).map(([name, t]) => {
      const s = t.storage as GpuStorage;
      return { name, buffer: s.buffer, offset: s.offset ?? 0, bytes: s.bytes, shape: t.shape, dtype: t.dtype };
    });
    if (log && previous && previous.key === key && sameLog(previous.log, log)) {
      // Two identical steps in a row: this one becomes the plan.
      const plan = rt.adopt(log, Object.values(out).map((t) => t.storage as GpuStorage));
      if (plan) {
        this.plan = { key, plan, outputs };
        this.previous = null;
        this.stats.plans++;
      }
    }
    // The caller gets copies, replayed or not: the step's own output buffers go back (or stay
    // with the plan) at once, so results held across steps never shift the next step's buffers.
    const copies = this.copies(rt, outputs);
    for (const t of Object.values(out)) t.dispose();
    return copies;
  }

  /** Drop the plan (its buffers go back to the pool) and start over with the next run. */
  invalidate(): void {
    if (this.plan) this.runtime?.releasePlan(this.plan.plan);
    this.plan = null;
    this.previous = null;
  }

  private copies(rt: GpuRuntime, outputs: PlannedOutput[]): Record<string, Tensor> {
    const r: Record<string, Tensor> = {};
    for (const o of outputs) r[o.name] = new Tensor(this.backend, rt.copyOut(o.buffer, o.offset, o.bytes), o.shape, o.dtype);
    return r;
  }
}
