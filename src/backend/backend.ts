// The op set every backend implements. Each primitive has a CPU reference (backend/cpu) and a
// WebGPU implementation (backend/webgpu). Primitives take raw tensors (storage + shape + dtype)
// and return new storage; shape checking and autograd live one level up, in src/ops, so a
// backend only computes. Feature maps are NHWC; conv weights are OIHW (torchvision's shapes).
import type { DType, TypedArray } from '../runtime/dtype.js';
import type { Shape } from '../runtime/shape.js';

/** Backend-owned memory. Opaque to everything but its backend. */
export interface Storage {
  readonly backend: BackendName;
  /** Bytes held (for memory accounting). */
  readonly bytes: number;
}

export type BackendName = 'cpu' | 'webgpu';

/** What a primitive sees of a tensor: contiguous row-major data of a shape and dtype. */
export interface Raw {
  readonly storage: Storage;
  readonly shape: Shape;
  readonly dtype: DType;
}

export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'abs' | 'square' | 'reciprocal'
  | 'relu' | 'gelu' | 'sigmoid' | 'tanh' | 'sign';
/** Activation derivatives: dx = f'(x) * dy. */
export type UnaryGradOp = 'relu' | 'gelu' | 'sigmoid' | 'tanh';
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min' | 'gt' | 'eq';
/** x (op) s; rsub = s - x, rdiv = s / x, pow = x^s. */
export type ScalarOp = 'add' | 'mul' | 'rsub' | 'rdiv' | 'pow' | 'max' | 'min';
export type ReduceOp = 'sum' | 'max' | 'mean';

export interface Conv2dParams {
  stride: [number, number];
  pad: [number, number];
}

export interface PoolParams {
  kernel: [number, number];
  stride: [number, number];
  pad: [number, number];
}

export type OptimizerKind = 'sgd' | 'lars' | 'adamw';

/**
 * Hyper-parameters of one fused optimiser step that stay fixed across steps (see
 * backend/cpu/optim.ts for the exact rules); those that change per step are in `hyper`, below.
 */
export interface OptimizerHyper {
  weightDecay: number;
  /** SGD/LARS momentum. */
  momentum: number;
  /** LARS trust coefficient η and whether lr is clipped (solo-learn's clip_lr). */
  eta: number;
  clipLr: boolean;
  eps: number;
  /** AdamW. */
  beta1: number;
  beta2: number;
}

/**
 * The per-step values optimizerStep reads from its `hyper` tensor (f32 [4]): lr, 1 − β1^t,
 * 1 − β2^t (AdamW's bias corrections) and 0, t the 1-based step count. Defined here once for the
 * optimiser that writes them and the backends that read them.
 */
export function optimizerHyperValues(lr: number, step: number, beta1: number, beta2: number, dtype: 'f32' | 'f64' = 'f32'): Float32Array | Float64Array {
  const v = [lr, 1 - Math.pow(beta1, step), 1 - Math.pow(beta2, step), 0];
  return dtype === 'f64' ? Float64Array.from(v) : Float32Array.from(v);
}

/**
 * Running statistics updated in place by a training-mode batch norm. n: values per channel in the
 * batch (batchNormFinalize needs it for the unbiased variance; batchStatistics knows it from x).
 */
export interface BatchNormRunning { mean: Raw; variance: Raw; count: Raw | null; momentum: number; n: number }

/** Storage a batch-norm backward may write dgamma / dbeta to (gradient sinks); returned when used. */
export interface GradInto { dgamma?: Storage | null; dbeta?: Storage | null }

/** What batch-norm's apply pass fuses after the affine map: + residual, then ReLU. */
export interface NormalizeEpilogue { residual?: Raw | null; relu?: boolean }

/**
 * A training-mode batch norm (then ReLU) applied to a convolution's input as it is read:
 * conv(relu((x − mean)·invstd·gamma + beta)) with per-channel statistics [C], or [G, C] for G
 * equal groups of images. The normalised map need not exist in memory: a backend may apply the
 * map in its operand reads (WebGPU's GEMM hooks) or materialise it for the call and free it.
 */
export interface InputNorm { mean: Raw; invstd: Raw; gamma: Raw | null; beta: Raw | null; relu: boolean }

export interface Backend {
  readonly name: BackendName;

  // ---- memory ----
  /**
   * Device bytes held by live tensors (and by a step plan for its replays) and the peak since
   * start; bytesAllocated is every buffer created, free ones in the pool included: the device
   * footprint (GPU backends).
   */
  memoryStats?(): { bytesInUse: number; peakBytesInUse: number; bytesAllocated: number; buffersCreated: number };
  /**
   * Submit the work recorded so far without waiting for it (asynchronous backends): called at the
   * end of each training step so the device runs step k while the host records step k+1.
   */
  submit?(): void;
  upload(data: TypedArray, dtype: DType): Storage;
  /**
   * Overwrite dst's elements with host data (same length and dtype), ordered after all work
   * recorded so far: per-step values (learning rate, batch indices) written into tensors that a
   * recorded step reads, so the step itself can be replayed unchanged.
   */
  write(dst: Raw, data: TypedArray): void;
  fill(size: number, dtype: DType, value: number): Storage;
  /** Read back; the only place a backend may wait for the device. */
  download(x: Raw): Promise<TypedArray>;
  /** Return storage to the backend (pool). Called when the last reference goes. */
  release(s: Storage): void;
  cast(x: Raw, dtype: DType): Storage;
  /** Copy src into dst at element offset (same dtype). Used for flat parameter buffers. */
  copyInto(dst: Raw, dstOffset: number, src: Raw): void;

  // ---- elementwise ----
  unary(op: UnaryOp, x: Raw): Storage;
  /** f'(x) * dy for activations. */
  unaryGrad(op: UnaryGradOp, x: Raw, dy: Raw): Storage;
  /** a (op) b with NumPy broadcasting to outShape. Comparisons give 1/0 in a's dtype. */
  binary(op: BinaryOp, a: Raw, b: Raw, outShape: Shape): Storage;
  scalar(op: ScalarOp, x: Raw, s: number): Storage;

  // ---- reductions ----
  /** Reduce over `axes` (sorted, unique); output has the reduced dims removed. */
  reduce(op: ReduceOp, x: Raw, axes: number[]): Storage;

  // ---- layout ----
  permute(x: Raw, perm: number[]): Storage;
  /** Contiguous sub-block starting at `begin` with extent `size`. */
  slice(x: Raw, begin: number[], size: number[]): Storage;
  /** Embed x into zeros of outShape at `begin` (the gradient of slice). */
  pad(x: Raw, begin: number[], outShape: Shape): Storage;
  concat(xs: Raw[], axis: number): Storage;
  /** out = x[..., idx[j], ...] along `axis` (idx is i32). */
  gather(x: Raw, axis: number, idx: Raw): Storage;
  /** Gradient of gather: zeros of outShape with dy rows added at idx along axis. */
  scatterAdd(dy: Raw, axis: number, idx: Raw, outShape: Shape): Storage;

  // ---- linear algebra ----
  /**
   * C = op(A)·op(B) for 2-D [M,K]·[K,N], or batched 3-D [Bt,M,K]·[Bt,K,N]; op = transpose
   * when the flag is set (then A is stored [K,M], B is stored [N,K]). `bias` [N], when given,
   * is added to every row in the same pass (Linear's bias as a GEMM epilogue).
   */
  /** `into`: storage of the output's size the result may be written to (a gradient sink); returned when used. */
  matmul(a: Raw, b: Raw, transA: boolean, transB: boolean, bias?: Raw | null, into?: Storage | null): Storage;

  // ---- convolution (x NHWC, w OIHW, y NHWC) ----
  /**
   * `batchNormGroups` > 0: y goes straight into a training-mode batch norm over that many groups
   * of rows. A backend may then compute y's per-channel statistics as it writes y and keep them
   * with y for batchStatistics(y) (WebGPU: in the GEMM epilogue, saving batch norm a pass over
   * y). A hint: results are the same. `inputNorm`: convolve the batch-normalised x (above).
   */
  conv2d(x: Raw, w: Raw, bias: Raw | null, p: Conv2dParams, batchNormGroups?: number, inputNorm?: InputNorm | null): Storage;
  /**
   * dx. `accumulate` (x's shape and dtype): x's gradient from its other consumers (a residual
   * connection's), added to the result, in the same pass where the backend can (WebGPU: as the
   * GEMM paths store dx), so the tape needs no separate add. The tape does not add it again: a
   * backend must include it, and must return fresh storage (never accumulate's own).
   */
  conv2dBackwardData(dy: Raw, w: Raw, xShape: Shape, p: Conv2dParams, accumulate?: Raw | null): Storage;
  /**
   * `into`: storage the result may be written to (a gradient sink); returned when used.
   * `inputNorm`: the forward convolved x batch-normalised (conv2d's option), and so does dW.
   */
  conv2dBackwardWeight(x: Raw, dy: Raw, wShape: Shape, p: Conv2dParams, into?: Storage | null, inputNorm?: InputNorm | null): Storage;

  // ---- pooling (NHWC) ----
  /** Max pool; returns output and the flat input index (within its image plane·C) of each max. */
  maxPool2d(x: Raw, p: PoolParams): { y: Storage; argmax: Storage };
  maxPool2dBackward(dy: Raw, argmax: Raw, xShape: Shape): Storage;

  // ---- normalisation (x viewed as [M, C], channels last) ----
  /** Batch statistics over M: mean and biased variance, each [C]. */
  moments(x: Raw): { mean: Storage; variance: Storage };
  /**
   * y = (x − mean)·invstd·gamma + beta, per channel; with an epilogue, then + residual (x's
   * shape) and/or ReLU — the end of a residual block in one pass. mean and invstd may be
   * [G, C]: x is then G equal groups of rows, each normalised with its own statistics.
   */
  normalize(x: Raw, mean: Raw, invstd: Raw, gamma: Raw | null, beta: Raw | null, epilogue?: NormalizeEpilogue): Storage;
  /**
   * invstd = 1/√(variance + eps), [C]. With `running`, also update the running statistics in
   * place — PyTorch's rule: new = (1 − momentum)·old + momentum·batch, with the unbiased batch
   * variance (·n/(n−1)) — and add 1 to the i32 batch counter: one pass instead of a dozen.
   */
  batchNormFinalize(mean: Raw, variance: Raw, eps: number, running: BatchNormRunning | null): Storage;
  /**
   * Training-mode batch norm's statistics: moments + batchNormFinalize in one primitive (on the
   * GPU the per-channel pass that adds the partial sums also makes invstd and updates the
   * running statistics: one dispatch less per batch norm). With `groups` G > 1, x is G equal
   * groups of rows (e.g. two views in one batch) with statistics of their own, [G, C]; the
   * running statistics are then updated once per group, in order, as G separate calls would.
   */
  batchStatistics(x: Raw, eps: number, running: BatchNormRunning | null, groups?: number): { mean: Storage; invstd: Storage };
  /**
   * Training-mode batch-norm backward in one pass of reductions: returns dx, dgamma, dbeta
   * (dgamma/dbeta computed even when the module has no affine parameters; the op drops them).
   * With statistics [G, C], each group of rows uses its own (dgamma/dbeta add the groups').
   * With `reluOut`, the output of a ReLU fused after the batch norm, dy is first masked where
   * reluOut is 0 (in the same pass) and the masked gradient is returned too (dyMasked).
   * `reluFromInput` instead: the fused ReLU's output was never stored (an InputNorm's), so the
   * mask is where the normalised x, (x − mean)·invstd·gamma + beta, is not positive.
   */
  batchNormBackward(x: Raw, dy: Raw, mean: Raw, invstd: Raw, gamma: Raw | null, into?: GradInto, reluOut?: Raw | null,
    reluFromInput?: { beta: Raw | null } | null):
    { dx: Storage; dgamma: Storage; dbeta: Storage; dyMasked?: Storage };

  // ---- softmax family (over the last axis) ----
  softmax(x: Raw, logSpace: boolean): Storage;
  /** Given y = softmax (or log-softmax when logSpace), the input gradient. */
  softmaxBackward(y: Raw, dy: Raw, logSpace: boolean): Storage;
  /** Per-row −log softmax(logits)[label]: logits [N,K], labels i32 [N] → [N]. */
  crossEntropy(logits: Raw, labels: Raw): Storage;
  /** d(Σ_n dLoss[n]·loss[n]) / dlogits. */
  crossEntropyBackward(logits: Raw, labels: Raw, dLoss: Raw): Storage;

  // ---- CO-SSL fused local loss ----
  /**
   * Per sample b (P local positions, D dims; zg and zl are stop-gradient targets):
   *   loss[b] = −(1/P)·Σ_i [cos(pl[b,i], zg[b]) + cos(p[b], zl[b,i])]
   * pl, zl: [B, P, D]; zg, p: [B, D] → [B]. Nothing of size B·P·D is written.
   */
  localCosine(pl: Raw, zg: Raw, p: Raw, zl: Raw): Storage;
  /** Gradients of Σ_b dLoss[b]·loss[b] w.r.t. pl ([B, P, D]) and p ([B, D]). */
  localCosineBackward(pl: Raw, zg: Raw, p: Raw, zl: Raw, dLoss: Raw): { dpl: Storage; dp: Storage };

  // ---- whole-model training primitives over flat buffers (in place) ----
  /**
   * A storage aliasing `size` elements of `base` from element `offset` (flat parameter
   * buffers). Releasing a view never frees its base. Offsets are multiples of 64 elements.
   */
  view(base: Storage, offset: number, size: number, dtype: DType): Storage;
  /**
   * target ← τ·target + (1 − τ)·source, elementwise (EMA of a whole network in one pass). τ is
   * read from the device tensor `tau` (shape [1]; f32 on WebGPU) so a recorded step can be
   * replayed with a new τ.
   */
  emaUpdate(target: Raw, source: Raw, tau: Raw): void;
  /**
   * One optimiser step for every tensor of a flat buffer. `segments` is i32 [S, 3]: per tensor
   * (offset, size, adapt) where adapt = 1 applies weight decay and LARS adaptation (0 for biases
   * and norm parameters). state1 = momentum (SGD/LARS) or first moment (AdamW); state2 = second
   * moment (AdamW only). `hyper` (f32 [4], laid out by optimizerHyperValues) holds the values
   * that change per step, read on the device so a recorded step can be replayed with new ones.
   */
  optimizerStep(kind: OptimizerKind, param: Raw, grad: Raw, state1: Raw, state2: Raw | null,
    segments: Raw, hyper: Raw, h: OptimizerHyper): void;
}
