// Making a GEMM tuning table (gemm_tuning.ts): time steps with the heuristic's tiles and one
// with each candidate tile forced on every GEMM (COENGINE_GEMM_TILE's mechanism; every dispatch
// in its own timed pass), then keep, per site, the candidate that beat the heuristic there.
import { BackendError } from '../../../runtime/errors.js';
import type { GpuRuntime } from '../runtime.js';
import { GEMM_TILES, SOFTWARE_TILES, forcedGemmTile, isSoftwareDevice, setGemmTile, validateTile } from './gemm.js';
import { beatsHeuristic, chooseTunedTiles, deviceIdentity, gemmTuning, msPerSite, setGemmTuning, type GemmTuningTable, type SiteTiming } from './gemm_tuning.js';

/**
 * Tiles timed on GPUs: the heuristic's own (shared128bk8p, shared64x128, shared128x64, shared64p)
 * and those that won single rows in the H100's per-tile sweeps (bench/RESULTS.md, eleventh
 * session), plus the double-buffered 64×64 tile, never timed per layer, and warp-blocked twins of
 * the two most used (thirteenth session, untimed).
 */
export const GPU_TUNING_CANDIDATES = ['shared128bk8p', 'shared64x128', 'shared128x64', 'shared64p', 'shared64', 'shared64pd', 'shared128p', 'shared32p',
  'shared128bk8pw', 'shared64pw'];

export interface TuningResult {
  table: GemmTuningTable;
  /** Sites measured (GEMM dispatches of the step, by label); the table's sites are those that changed tile. */
  measured: number;
  /** GPU ms per step over every measured site: as the heuristic chose, and with the table (its confirming step). */
  heuristicMs: number;
  tunedMs: number;
  /** Candidates that failed in the step (e.g. a grid too large for the device), with the reason. */
  skipped: string[];
}

/**
 * Tune the GEMMs of the step `runStep` records (it must record the same GEMMs each time, as a
 * training step does). It runs one warm-up step, then profiled steps: the heuristic's tiles,
 * each candidate forced on every GEMM, the heuristic's again (each site keeps its faster
 * heuristic time: the first profile can run slow), and one with the table made, whose entries
 * must win again to stay. The steps run on the heuristic's tiles and
 * the candidates, never on a table in use, which is put back afterwards: set the returned table
 * with setGemmTuning to use it.
 */
export async function tuneGemmTiles(rt: GpuRuntime, runStep: () => Promise<void>, workload: string,
  candidates?: readonly string[], margin?: number): Promise<TuningResult> {
  if (forcedGemmTile()) throw new BackendError(`GEMM tuning: a tile is forced on every GEMM (COENGINE_GEMM_TILE=${forcedGemmTile()}); unset it`);
  if (!rt.features.has('timestamp-query')) throw new BackendError('GEMM tuning needs GPU timestamps, and this adapter offers no timestamp-query feature');
  const names = candidates ?? (isSoftwareDevice(rt) ? SOFTWARE_TILES : GPU_TUNING_CANDIDATES);
  for (const n of names) {
    if (!GEMM_TILES[n]) throw new BackendError(`GEMM tuning: unknown tile '${n}' (known: ${Object.keys(GEMM_TILES).join(', ')})`);
  }
  // Tiles this device cannot run (workgroup size or memory) are left out, not failed on mid-step.
  const usable = names.filter((n) => { try { validateTile(rt, GEMM_TILES[n], n); return true; } catch { return false; } });
  const sites = async (): Promise<Map<string, SiteTiming>> => {
    const p = await rt.profileDispatches(runStep, (l) => l);
    // A profile times the first MAX_PROFILED dispatches: a site cut off under one candidate would look cheaper.
    if (p.timed < p.total) throw new BackendError(`GEMM tuning: the step records ${p.total} dispatches, of which a profile times only ${p.timed}`);
    return msPerSite(p.dispatches);
  };
  // Measured against the heuristic itself, not a table already in use (restored afterwards).
  const table = gemmTuning();
  setGemmTuning(null);
  const heuristic: Map<string, SiteTiming>[] = [];
  const byCandidate = new Map<string, Map<string, SiteTiming>>();
  const skipped: string[] = [];
  try {
    await runStep(); // pipelines compiled, pool filled: the profiles time the kernels alone
    heuristic.push(await sites());
    for (const n of usable) {
      setGemmTile(n);
      try {
        byCandidate.set(n, await sites());
      } catch (e) {
        if (e instanceof BackendError && /profile times only/.test(e.message)) throw e;
        skipped.push(`${n}: ${(e as Error).message}`);
      }
    }
    setGemmTile(null);
    heuristic.push(await sites());
    const chosen = chooseTunedTiles(heuristic, byCandidate, margin);
    const made: GemmTuningTable = { version: 1, device: deviceIdentity(rt), workload, created: new Date().toISOString(), candidates: [...byCandidate.keys()], sites: chosen.sites };
    // A confirming step with the table: each entry must beat the heuristic by the margin again,
    // and the figures reported are this step's, not the best of several samples.
    setGemmTuning(made);
    const confirmed = await sites();
    let heuristicMs = 0, tunedMs = 0;
    for (const [site, ms] of chosen.heuristicMs) {
      heuristicMs += ms;
      const entry = made.sites[site], again = confirmed.get(site)?.ms;
      if (entry && again !== undefined && beatsHeuristic(again, ms, margin)) { entry.ms = again; tunedMs += again; continue; }
      if (entry) delete made.sites[site];
      tunedMs += ms;
    }
    return { table: made, measured: chosen.heuristicMs.size, heuristicMs, tunedMs, skipped };
  } finally {
    setGemmTile(null);
    setGemmTuning(table);
  }
}
