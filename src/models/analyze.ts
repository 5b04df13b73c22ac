// Architecture summary from the built module tree: layer table, parameters, receptive field,
// local map size and forward MACs for one input size.
import type { Module } from '../nn/module.js';
import { traceModule, type LayerRow } from './trace.js';
import type { ResNet } from './resnet.js';

export interface ArchSummary {
  input: number;
  /** RF of the local representations (last feature map), Appendix B.1 formula. */
  rf: number;
  /** Cumulative stride of the local map. */
  jump: number;
  localMap: [number, number];
  /** Trainable parameters (BN affine included, running statistics not). */
  params: number;
  /** Forward multiply-accumulates for one image (convs + linears; see trace.ts). */
  macs: number;
  featureDim: number;
  rows: LayerRow[];
}

export function summarize(model: ResNet, input: number, opts: { countBatchNorm?: boolean } = {}): ArchSummary {
  const { tracer } = traceModule(model, [1, input, input, 3], opts);
  const local = tracer.at('localMap');
  return {
    input,
    rf: local.rf,
    jump: local.jump,
    localMap: [local.shape[1], local.shape[2]],
    params: model.numParameters(),
    macs: tracer.macs,
    featureDim: tracer.at('global').shape[1],
    rows: tracer.rows,
  };
}

/** MACs of any traceable module for one input shape. */
export function countMacs(m: Module, input: number[], opts: { countBatchNorm?: boolean } = {}): number {
  return traceModule(m, input, opts).tracer.macs;
}
