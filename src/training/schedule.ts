// Per-step schedules (solo-learn's): linear warm-up then cosine for the learning rate, the
// cosine EMA momentum τ of BYOL, and DINO's linear teacher-temperature warm-up.

/** Linear warm-up from `warmupStart` to `base` over `warmupSteps`, then cosine to `final`. */
export function warmupCosine(step: number, totalSteps: number, base: number, warmupSteps: number, warmupStart = 3e-5, final = 0): number {
  if (step < warmupSteps) return warmupStart + (base - warmupStart) * (step / Math.max(1, warmupSteps));
  const t = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
  return final + 0.5 * (base - final) * (1 + Math.cos(Math.PI * Math.min(1, t)));
}

/** τ = 1 − (1 − τ_base)·(cos(πk/K) + 1)/2, going from τ_base to 1 (SPEC §2). */
export function emaTau(step: number, totalSteps: number, tauBase: number, tauFinal = 1): number {
  const k = Math.min(step, totalSteps) / Math.max(1, totalSteps);
  return tauFinal - (tauFinal - tauBase) * (Math.cos(Math.PI * k) + 1) / 2;
}

/** Linear from `start` to `end` over `warmupSteps`, then constant (DINO teacher temperature). */
export function linearWarmup(step: number, warmupSteps: number, start: number, end: number): number {
  if (step >= warmupSteps) return end;
  return start + (end - start) * (step / Math.max(1, warmupSteps));
}
