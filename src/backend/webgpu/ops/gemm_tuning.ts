// Measured tile choices per GEMM site (what cuDNN's benchmark mode does for convolutions): the
// heuristic in gemm.ts was fitted to one GPU (an H100) and one network (ResNet-50); a tuning
// table says, for each GEMM of a given training step on a given GPU, which tile was fastest
// there. `coengine bench step --tune FILE` makes one (tuneGemmTiles below); `coengine
// --gemm-tuning FILE <command>` (or COENGINE_GEMM_TUNING=FILE) uses it.
//
// A site is what a GEMM dispatch's label says before its split count, fusion suffix and tile:
// `matmul 1×401408×64×64`, `conv2d [128, 56, 56, 64]*[64, 64, 3, 3] s1×1 p1×1`, `conv2d dw ...`:
// the operation and its full shapes (with a convolution's stride and padding), the same in every
// step that runs it. The split count is not part of a choice: it follows from the tile (gemm.ts
// splitKLayers), as it does without a table.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { BackendError } from '../../../runtime/errors.js';
import type { GpuContext } from '../context.js';
import type { ProfiledDispatch } from '../runtime.js';

export interface TunedSite {
  /** The tile that beat the heuristic's here, in the candidates' profiles and the table's (a GEMM_TILES name). */
  tile: string;
  /** GPU ms per step of the site's dispatches (split-K reduces included) under that tile (the table's profile), and under the heuristic's. */
  ms: number;
  heuristicMs: number;
}

export interface GemmTuningTable {
  version: 1;
  /** The adapter it was measured on (deviceIdentity); other adapters ignore the table. */
  device: string;
  /** What was tuned: the step's shapes (pretrain.ts gemmWorkload); pretrain --tune-gemm reuses a table only for its own. */
  workload: string;
  created: string;
  /** Tiles timed besides the heuristic. */
  candidates: string[];
  sites: Record<string, TunedSite>;
}

/** How a table names an adapter: vendor, architecture, device and description, as Dawn reports them. */
export function deviceIdentity(ctx: GpuContext): string {
  const info = (ctx.device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  if (!info) return 'unknown adapter';
  return [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' / ') || 'unknown adapter';
}

/** Whether a table was measured on this context's adapter (the only one it applies to). */
export function measuredHere(t: GemmTuningTable, ctx: GpuContext): boolean {
  return t.device === deviceIdentity(ctx);
}

/** undefined: not looked at yet (COENGINE_GEMM_TUNING is read on first use). */
let table: GemmTuningTable | null | undefined;
/** The tile names a table may use (GEMM_TILES' keys; gemm.ts registers them). */
let knownTiles: readonly string[] = [];

export function setKnownTileNames(names: readonly string[]): void { knownTiles = names; }
/** Per device: whether the table applies (checked once; a mismatch warns once). */
let applies = new WeakMap<GPUDevice, boolean>();

/**
 * Use this table from now on (null: none), instead of whatever was set or COENGINE_GEMM_TUNING
 * names (which is then never read). Returns the table set before, or null. A table must be set
 * before a training step is planned for replay (step_replay.ts): a plan keeps the tiles it was
 * recorded with. pretrain and bench step set theirs before their first step.
 */
export function setGemmTuning(t: GemmTuningTable | null): GemmTuningTable | null {
  const prev = table ?? null;
  table = t;
  applies = new WeakMap();
  return prev;
}

/** The table in use: the one set, else COENGINE_GEMM_TUNING's file (read once), else null. */
export function gemmTuning(): GemmTuningTable | null {
  if (table === undefined) {
    const path = process.env.COENGINE_GEMM_TUNING;
    table = path ? loadGemmTuning(path) : null;
  }
  return table;
}

/**
 * The tuned tile name for a site, or null (no table, a table of another adapter, or a site it
 * never measured: the heuristic decides).
 */
export function tunedTileName(ctx: GpuContext, site: string | undefined): string | null {
  const table = gemmTuning();
  if (!table || site === undefined) return null;
  let ok = applies.get(ctx.device);
  if (ok === undefined) {
    ok = measuredHere(table, ctx);
    if (!ok) process.stderr.write(`coengine: the GEMM tuning table was measured on '${table.device}', not on this adapter ('${deviceIdentity(ctx)}'): ignored\n`);
    applies.set(ctx.device, ok);
  }
  return ok ? table.sites[site]?.tile ?? null : null;
}

/** Read and check a table file (every tile it names must be a GEMM_TILES config). */
export function loadGemmTuning(path: string, known: readonly string[] = knownTiles): GemmTuningTable {
  if (!existsSync(path)) throw new BackendError(`GEMM tuning table ${path}: no such file (make one with coengine bench step --tune ${path})`);
  let t: GemmTuningTable;
  try {
    t = JSON.parse(readFileSync(path, 'utf8')) as GemmTuningTable;
  } catch (e) {
    throw new BackendError(`GEMM tuning table ${path}: not JSON (${(e as Error).message})`);
  }
  const bad = (why: string) => new BackendError(`GEMM tuning table ${path}: ${why}`);
  if (!t || t.version !== 1) throw bad(`version ${JSON.stringify(t?.version)}, expected 1`);
  if (typeof t.device !== 'string' || !t.sites || typeof t.sites !== 'object') throw bad('needs "device" and "sites"');
  for (const [site, s] of Object.entries(t.sites)) {
    if (!s || !known.includes(s.tile)) throw bad(`site '${site}' names tile ${JSON.stringify(s?.tile)}, not one of ${known.join(', ')}`);
  }
  return t;
}

/** Write a table (to a temporary name, then renamed: a killed write leaves the old file). */
export function saveGemmTuning(path: string, t: GemmTuningTable): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(t, null, 1) + '\n');
  renameSync(tmp, path);
}

/**
 * A GEMM dispatch label's site: the label without its tile (` @name`), input-norm and statistics
 * suffixes, or split count (labels end `[ ×N splits][ +stats][ +norm] @tile`).
 */
export function siteOfLabel(label: string): string {
  return label.replace(/ @\S+$/, '').replace(/ \+norm$/, '').replace(/ \+stats$/, '').replace(/ ×\d+ splits$/, '');
}

/** How much faster than the heuristic's tile another must be to enter a table. */
export const DEFAULT_MARGIN = 0.03;

/** The rule a table entry must pass, in the candidates' profiles and again in the table's: `margin` faster than the heuristic. */
export function beatsHeuristic(ms: number, heuristicMs: number, margin = DEFAULT_MARGIN): boolean {
  return ms > 0 && ms < (1 - margin) * heuristicMs;
}

/** One site's dispatches in one profiled step: GPU ms (split-K reduces included), the tile, whether it fused statistics. */
export interface SiteTiming { ms: number; tile: string; stats: boolean }

/**
 * GPU ms per GEMM site in one profiled step: every dispatch that declares work (the GEMMs and
 * implicit-GEMM convolutions) under its site, and each split-K reduce under the GEMM before it
 * (its cost depends on the split count, which depends on the tile).
 */
export function msPerSite(dispatches: readonly ProfiledDispatch[]): Map<string, SiteTiming> {
  const out = new Map<string, SiteTiming>();
  let last: SiteTiming | null = null;
  for (const d of dispatches) {
    if (d.flops > 0) {
      const site = siteOfLabel(d.label);
      last = out.get(site) ?? { ms: 0, tile: / @(\S+)$/.exec(d.label)?.[1] ?? '?', stats: false };
      last.ms += d.ms;
      last.stats ||= / \+stats( \+norm)?( @\S+)?$/.test(d.label);
      out.set(site, last);
    } else if (last !== null && d.label.includes('split-K reduce')) {
      last.ms += d.ms;
    }
  }
  return out;
}

/**
 * Choose a tile per site from profiled steps: `heuristic` (no tile forced; several runs, the
 * fastest counts) and one run per forced candidate. A candidate that ran the heuristic's own tile
 * at a site is one more heuristic sample there, not a rival; one that lost the batch-norm
 * statistics the heuristic's tile fused into the GEMM is not eligible there (batch norm then
 * makes them in a pass of its own, which no site is charged for). The fastest other candidate
 * replaces the heuristic's tile where it was at least `margin` faster (profiled steps differ by a
 * few percent on an H100).
 */
export function chooseTunedTiles(heuristic: readonly Map<string, SiteTiming>[], byCandidate: Map<string, Map<string, SiteTiming>>,
  margin = DEFAULT_MARGIN): { sites: Record<string, TunedSite>; heuristicMs: Map<string, number> } {
  const sites: Record<string, TunedSite> = {};
  const heuristicMs = new Map<string, number>();
  for (const [site, first] of heuristic[0] ?? []) {
    let ms = Math.min(...heuristic.map((h) => h.get(site)?.ms ?? Infinity));
    let best: { tile: string; ms: number } | null = null;
    for (const [tile, times] of byCandidate) {
      const t = times.get(site);
      if (!t || !(t.ms > 0)) continue; // not measured (a zero: timestamps that did not tick)
      if (t.tile === first.tile) { ms = Math.min(ms, t.ms); continue; }
      if (first.stats && !t.stats) continue;
      if (t.ms < (best?.ms ?? Infinity)) best = { tile, ms: t.ms };
    }
    heuristicMs.set(site, ms);
    if (best && beatsHeuristic(best.ms, ms, margin)) sites[site] = { tile: best.tile, ms: best.ms, heuristicMs: ms };
  }
  return { sites, heuristicMs };
}
