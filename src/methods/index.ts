// Build a method from a pretraining configuration.
import type { Backend } from '../backend/backend.js';
import type { PretrainConfig } from '../training/config.js';
import { Byol } from './byol.js';
import type { SslMethod } from './method.js';

export function createMethod(c: PretrainConfig, backend: Backend): SslMethod {
  const layer = { backend };
  switch (c.method) {
    case 'byol': case 'co-byol': case 'byol-mc':
      return new Byol({
        method: c.method, arch: c.arch, width: c.width, smallStem: c.smallStem, projHidden: c.projHidden, projOut: c.projOut,
        predHidden: c.predHidden, projLayers: c.projLayers, ws: c.ws, localGrid: c.localGrid || null, tauBase: c.tauBase, layer,
      });
    default:
      throw new Error(`method '${c.method}' is not available yet`);
  }
}

export * from './method.js';
