// What every SSL method provides to the trainer.
import type { Tensor } from '../tensor.js';
import type { Module } from '../nn/module.js';
import type { ResNet, Features } from '../models/resnet.js';

export type MethodName = 'byol' | 'co-byol' | 'byol-mc' | 'mocov3' | 'co-mocov3' | 'dino' | 'co-dino' | 'dino-mc';
export const METHOD_NAMES: MethodName[] = ['byol', 'co-byol', 'byol-mc', 'mocov3', 'co-mocov3', 'dino', 'co-dino', 'dino-mc'];

export interface StepContext {
  step: number;
  totalSteps: number;
  /** Steps per epoch (for schedules defined in epochs). */
  stepsPerEpoch: number;
}

export interface StepOutput {
  /** The scalar to backpropagate. */
  loss: Tensor;
  /** Scalars to log (global loss, local loss, …), read back only at logging time. */
  parts: Record<string, Tensor>;
  /** Online backbone features of the first global view (for the online probes). */
  features: ProbeFeatures;
}

/** The backbone features the online probes read: the global one and the "patch" (pooled) one. */
export type ProbeFeatures = Pick<Features, 'global' | 'pooled' | 'mlp'>;

export interface SslMethod {
  readonly name: MethodName;
  /** Everything the optimiser updates, EMA-paired parameters first (see emaPairs). */
  readonly online: Module;
  /** The EMA target / teacher network, or null. */
  readonly target: Module | null;
  readonly backbone: ResNet;
  /**
   * Online parameters that have an EMA twin in the target, and those twins, in the same order.
   * The trainer packs both into flat buffers with identical layouts so the EMA of the whole
   * target is one dispatch.
   */
  emaPairs(): { online: [string, Tensor][]; target: [string, Tensor][] };
  /** Base τ of the EMA (its schedule goes to 1). */
  readonly tauBase: number;
  /**
   * The training forward for global views (and optional small views); returns the loss.
   * Called with gradients enabled; the target runs under noGrad.
   */
  forward(globalViews: Tensor[], smallViews: Tensor[], ctx: StepContext): StepOutput;
  /**
   * Write what forward reads of ctx (a schedule: DINO's teacher temperature) into the method's
   * tensors. The trainer calls it before recording a step, so that the step records the same
   * work every time and can be replayed (training/step_replay.ts); forward calls it itself when
   * it was not called for this step. Absent: forward ignores ctx.
   */
  prepareStep?(ctx: StepContext): void;
}
