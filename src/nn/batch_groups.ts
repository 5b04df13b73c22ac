// Batch groups: a batch that is several augmented views stacked along the first axis runs
// through a network as one batch while every training-mode batch norm normalises each view's
// rows with statistics of their own — exactly what separate runs per view compute (BYOL, MoCo
// and DINO implementations run each view alone), at half the dispatches and with GEMMs twice
// as large. Layers other than batch norm treat samples independently, so nothing else changes.
// Inside withBatchGroups every training-mode batch norm splits its rows into equal groups, so
// every tensor a batch norm sees there must keep the views' rows in view order along its first
// axis (per-sample reshapes such as [V·B, P, C] → [V·B·P, C] do).

let current = 1;

/** The number of equal groups the current batch is made of (1 outside withBatchGroups). */
export function batchGroups(): number { return current; }

/** Run fn with training-mode batch norms splitting their batch into `groups` equal groups. */
export function withBatchGroups<T>(groups: number, fn: () => T): T {
  if (!Number.isInteger(groups) || groups < 1) throw new RangeError(`withBatchGroups: groups must be a positive integer, got ${groups}`);
  const prev = current;
  current = groups;
  try { return fn(); } finally { current = prev; }
}
