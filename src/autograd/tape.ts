// Reverse-mode autodiff. Each differentiable op attaches a GradNode to its output; backward()
// walks the graph in topological order (iteratively: deep ResNets must not hit the JS stack
// limit), accumulates gradients of tensors used more than once (residual connections), and
// then releases the tape so saved activations are freed.
import { Tensor, tidy, outsideScopes } from '../tensor.js';
import type { Storage } from '../backend/backend.js';

export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Gradients w.r.t. inputs (null where an input needs none), computed with ops under noGrad. */
  backward(gy: Tensor): (Tensor | null)[];
  /** Aliases saved for backward; disposed when the tape is released. */
  readonly saved: Tensor[];
}

let gradEnabled = true;

/** Leaves whose gradient sink was handed to an op in the running backward() (null outside it). */
let sinkPass: Set<Tensor> | null = null;

/**
 * The storage an op's backward may write the gradient of `t` into, or null: t's gradSink when t
 * is a leaf with one, inside backward() (never grad(): its results belong to the caller), while
 * t has no gradient yet and the sink was not handed out before in this pass (a second
 * contribution is produced and added the usual way). An op given a sink returns it as the
 * gradient's storage when it used it.
 */
export function gradSink(t: Tensor | null | undefined): Storage | null {
  if (!t || !sinkPass || t.node || !t.requiresGrad || !t.gradSink || t.grad || sinkPass.has(t)) return null;
  sinkPass.add(t);
  return t.gradSink.storage;
}

/**
 * The node whose backward is running, the gradients accumulated so far, and the inputs whose
 * pending gradient that backward took (null outside backward() / grad()).
 */
let running: { inputs: readonly Tensor[]; grads: Map<Tensor, Tensor>; claimed: Set<Tensor> } | null = null;

/**
 * Inside an op's backward: the gradient already accumulated for its input `t` from t's other
 * consumers (a residual connection's), for the op to add into the gradient it returns for t in
 * the same pass (a GEMM epilogue) instead of leaving the tape a separate add. Once this returns
 * a tensor, the op's gradient for t must include it. null when t has none yet, or appears more
 * than once among the node's inputs.
 */
export function claimPendingGrad(t: Tensor): Tensor | null {
  if (!running || running.claimed.has(t)) return null;
  const pending = running.grads.get(t);
  if (!pending || running.inputs.filter((i) => i === t).length !== 1) return null;
  running.claimed.add(t);
  return pending;
}

export function isGradEnabled(): boolean { return gradEnabled; }

/** Run fn without recording: for evaluation, EMA updates, optimiser steps. */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try { return fn(); } finally { gradEnabled = prev; }
}

export function needsGrad(...ts: (Tensor | null | undefined)[]): boolean {
  return gradEnabled && ts.some((t) => t?.requiresGrad);
}

/** Save a tensor for backward: an alias that outlives tidy scopes until the tape is released. */
export function save(t: Tensor): Tensor { return outsideScopes(() => t.alias()); }

/** Attach a node to an op's output. Call only when needsGrad(...inputs). */
export function record(out: Tensor, op: string, inputs: Tensor[], backward: GradNode['backward'], saved: Tensor[] = []): Tensor {
  out.requiresGrad = true;
  out.node = { op, inputs, backward, saved };
  return out;
}

/** Stop-gradient: same data, no history (BYOL's sg(·)). */
export function detach(t: Tensor): Tensor { return t.alias(); }

function topoOrder(roots: Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack: [Tensor, number][] = roots.map((r) => [r, 0]);
  for (const r of roots) visited.add(r);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const c = inputs[i];
      if (c.requiresGrad && !visited.has(c)) { visited.add(c); stack.push([c, 0]); }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order; // children before parents
}

export interface BackwardOptions {
  /** Gradient of the root (default: ones; the root must then be a scalar). */
  gradient?: Tensor;
  /** Keep the tape for a second backward. */
  retainGraph?: boolean;
}

/**
 * Core of backward() and grad(): returns the gradients of `wanted` tensors (any tensor in
 * the graph, leaf or not). When `accumulateLeaves`, leaves' `.grad` are updated too.
 */
function runBackward(root: Tensor, opts: BackwardOptions, wanted: Tensor[], accumulateLeaves: boolean): (Tensor | null)[] {
  if (!root.requiresGrad) throw new Error('backward: the tensor does not require grad (no recorded op leads to it)');
  if (!opts.gradient && root.size !== 1) throw new Error(`backward: root has shape [${root.shape}]; pass a gradient for non-scalar roots`);
  const order = topoOrder([root]);
  const stale = order.find((t) => t.graphReleased);
  if (stale) {
    throw new Error(`backward: the graph through ${stale.describe()} was already freed by an earlier backward; ` +
      'pass { retainGraph: true } to the first backward to run it twice');
  }
  const wantedSet = new Set(wanted);
  const results = new Map<Tensor, Tensor>();
  const prev = gradEnabled, prevSinks = sinkPass;
  gradEnabled = false;
  sinkPass = accumulateLeaves ? new Set() : null;
  try {
    const grads = new Map<Tensor, Tensor>();
    grads.set(root, opts.gradient ? opts.gradient.alias() : onesLike(root));
    for (let k = order.length - 1; k >= 0; k--) {
      const t = order[k];
      const g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      if (wantedSet.has(t)) results.set(t, g.alias());
      const node = t.node;
      if (node) {
        const claimed = new Set<Tensor>(), outer = running;
        running = { inputs: node.inputs, grads, claimed };
        let gin: (Tensor | null)[];
        try { gin = tidy(() => node.backward(g)); } finally { running = outer; }
        // Free what this node saved as soon as it has run (PyTorch does the same): activations
        // then leave memory progressively during the backward pass instead of all at the end.
        if (!opts.retainGraph) { for (const s of node.saved) s.dispose(); t.node = null; t.graphReleased = true; }
        // Backward fns may pass g straight through (or return one tensor twice); each input
        // gets its own handle so disposing one never frees another's gradient.
        const owned = new Set<Tensor>([g]);
        node.inputs.forEach((inp, i) => {
          let gi = gin[i];
          if (!gi) return;
          if (owned.has(gi)) gi = gi.alias();
          owned.add(gi);
          if (!inp.requiresGrad) { gi.dispose(); return; }
          const acc = grads.get(inp);
          if (acc && claimed.has(inp)) { // gi already holds acc
            grads.set(inp, gi === acc ? acc.alias() : gi);
            acc.dispose();
          }
          else if (acc) { grads.set(inp, addSameShape(acc, gi)); acc.dispose(); gi.dispose(); }
          else grads.set(inp, gi);
        });
      } else if (accumulateLeaves) {
        // Leaf gradients outlive the caller's tidy scopes, like the parameters they belong to.
        const old = t.grad;
        t.grad = outsideScopes(() => (old ? addSameShape(old, g) : g.alias()));
        old?.dispose();
      }
      g.dispose();
    }
  } finally {
    gradEnabled = prev;
    sinkPass = prevSinks;
    if (!opts.retainGraph) releaseTape(order);
  }
  return wanted.map((w) => results.get(w) ?? null);
}

/** Free the graph: drop nodes and their saved activations. */
export function releaseTape(tensors: Tensor[]): void {
  for (const t of tensors) {
    if (t.node) { for (const s of t.node.saved) s.dispose(); t.node = null; t.graphReleased = true; }
  }
}

/**
 * Free every recorded op behind `roots` (their saved activations too). For graphs a backward did
 * not release: branches no root's backward reached (a forward's unused outputs), or graphs
 * kept with retainGraph.
 */
export function releaseGraph(roots: Tensor[]): void {
  const seen = new Set<Tensor>(), stack = [...roots], all: Tensor[] = [];
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    all.push(t);
    for (const i of t.node?.inputs ?? []) if (i) stack.push(i);
  }
  releaseTape(all);
}

/** Accumulate d(root)/d(leaf) into every leaf's `.grad` that requires grad. */
export function backward(root: Tensor, opts: BackwardOptions = {}): void {
  runBackward(root, opts, [], true);
}

/** Gradients of root with respect to `inputs` (e.g. input pixels for PGD), without touching `.grad`. */
export function grad(root: Tensor, inputs: Tensor[], opts: BackwardOptions = {}): (Tensor | null)[] {
  return runBackward(root, opts, inputs, false);
}

// These two are injected by ops/index to avoid an import cycle (ops import the tape).
let onesLike: (t: Tensor) => Tensor = () => { throw new Error('ops not loaded'); };
let addSameShape: (a: Tensor, b: Tensor) => Tensor = () => { throw new Error('ops not loaded'); };
export function installTapeOps(ones: typeof onesLike, add: typeof addSameShape): void {
  onesLike = ones; addSameShape = add;
}
