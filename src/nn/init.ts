// Parameter initialisation, seeded. A module built twice with the same seed gets the same
// weights on any backend (numbers are drawn on the host).
import { Rng } from '../runtime/rng.js';

let globalRng = new Rng(0);
/** Seed the generator modules draw their initial weights from. */
export function manualSeed(seed: number): void { globalRng = new Rng(seed); }
export function initRng(): Rng { return globalRng; }
