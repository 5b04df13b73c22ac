// Build a method from a pretraining configuration.
import type { Backend } from '../backend/backend.js';
import type { PretrainConfig } from '../training/config.js';
import { Byol } from './byol.js';
import { MocoV3 } from './mocov3.js';
import { Dino } from './dino.js';
import type { SslMethod } from './method.js';
import type { LayerOptions } from '../nn/layers.js';

/** `extra`: more layer options (e.g. dtype 'f64' for gradient and equivalence tests). */
export function createMethod(c: PretrainConfig, backend: Backend, extra: Omit<LayerOptions, 'backend'> = {}): SslMethod {
  const layer: LayerOptions = { ...extra, backend };
  switch (c.method) {
    case 'byol': case 'co-byol': case 'byol-mc':
      return new Byol({
        method: c.method, arch: c.arch, width: c.width, smallStem: c.smallStem, projHidden: c.projHidden, projOut: c.projOut,
        predHidden: c.predHidden, projLayers: c.projLayers, ws: c.ws, localGrid: c.localGrid || null, tauBase: c.tauBase, layer,
      });
    case 'mocov3': case 'co-mocov3':
      return new MocoV3({
        method: c.method, arch: c.arch, width: c.width, smallStem: c.smallStem, projHidden: c.projHidden, projOut: c.projOut,
        predHidden: c.predHidden, temperature: c.mocoTemperature, ws: c.ws, localGrid: c.localGrid || null, tauBase: c.tauBase, layer,
      });
    case 'dino': case 'co-dino': case 'dino-mc':
      return new Dino({
        method: c.method, arch: c.arch, width: c.width, smallStem: c.smallStem, hidden: c.projHidden, bottleneck: c.projOut,
        prototypes: c.dinoPrototypes, studentTemp: c.dinoStudentTemp, teacherTemp: c.dinoTeacherTemp,
        warmupTeacherEpochs: c.dinoWarmupTeacherEpochs, centerMomentum: 0.9, ws: c.ws, localGrid: c.localGrid || null,
        tauBase: c.tauBase, layer,
      });
  }
}

export * from './method.js';
