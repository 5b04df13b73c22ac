// Waiting for the GPU without spinning a CPU core.
//
// dawn.node settles its promises (mapAsync, onSubmittedWorkDone) by polling the device from a
// callback it re-queues with the global `setImmediate` for as long as one is pending: a wait
// is a busy loop that keeps one core at 100% and feeds the garbage collector. On a real GPU
// that only wastes a core; on lavapipe the GPU *is* the CPU, and the spinning core is taken
// from its rasteriser threads (2-core machine, default training step: 1721 → 1068 ms/step
// once waits stop spinning).
//
// While at least one wait is in progress, the global setImmediate is replaced by one that
// still runs at once during the first FAST_MS of the wait (short waits keep their latency)
// and then defers through setTimeout, which Node runs at most once per millisecond. Other
// code calling setImmediate meanwhile is delayed by at most that millisecond (and gets a
// Timeout handle: clearTimeout, not clearImmediate, cancels it; nothing in the engine does).

const FAST_MS = 2;

let active = 0;
let original: typeof setImmediate | null = null;
let since = 0;

/** Await what `start` returns (a GPU promise) with the device polled gently. */
export async function gentleWait<T>(start: () => Promise<T>): Promise<T> {
  if (active++ === 0) {
    original = globalThis.setImmediate;
    since = performance.now();
    const immediate = original;
    globalThis.setImmediate = ((fn: (...args: unknown[]) => void, ...args: unknown[]) =>
      performance.now() - since < FAST_MS ? immediate(fn, ...args) : setTimeout(fn, 0, ...args)) as unknown as typeof setImmediate;
  }
  try {
    // Started inside the swap: dawn.node queues its first poll while the call is still running.
    return await start();
  } finally {
    if (--active === 0 && original) {
      globalThis.setImmediate = original;
      original = null;
    }
  }
}
