// A training-mode batch norm (+ ReLU) folded into the convolution it feeds (ops/norm_conv.ts,
// nn/layers.ts batchNormConv): the same outputs, gradients and running statistics as the two
// ops composed, on the CPU reference and on the GPU (both routings), for odd channel counts,
// groups, strides, padding, a bias and no affine parameters; a residual network's step keeps
// fewer bytes (its normalised maps are not saved for backward); and a batch norm + ReLU before
// max pooling (a stem) does not keep its output.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu } from '../../src/backend/registry.js';
import type { Backend, Storage } from '../../src/backend/backend.js';
import { backward, batchNorm, batchNormConv2d, conv2d, maxPool2d, mul, relu, sum, tensor } from '../../src/ops/index.js';
import { tidy, type Tensor } from '../../src/tensor.js';
import { BasicBlock, Bottleneck } from '../../src/models/blocks.js';
import { Sequential } from '../../src/nn/layers.js';
import { overrideSoftwareDevice, setColumnStatsFusion, setGemmTile } from '../../src/backend/webgpu/ops/gemm.js';
import { setNormInReads } from '../../src/backend/webgpu/ops/conv.js';
import { Rng } from '../../src/runtime/rng.js';
import { gpuBackendOrSkip, gpuHandle } from '../helpers/gpu.js';
import { maxRelErr } from '../webgpu/kernel_parity.js';

/**
 * `gpuRouting`: the case runs on the GPU with the GPU's routing (the implicit GEMMs, whose hooks
 * apply the norm; on lavapipe k×k convolutions with few channels otherwise take im2col, which
 * materialises the map) instead of lavapipe's own (its 1×1 GEMMs; the GPU test forces the map
 * into their reads, which lavapipe would otherwise skip). Each case compiles its own kernels,
 * and lavapipe takes seconds for each: every hook path once.
 */
interface Case {
  name: string; x: number[]; co: number; k: number; stride: number; pad: number; groups: number; relu: boolean; bias: boolean; affine: boolean;
  gpuRouting: boolean;
}
const cases: Case[] = [
  // conv2d_fwd / conv2d_bwd_weight: unaligned 3-channel reads, masks through a masking pass (C % 4 ≠ 0)
  { name: '3 channels, 3×3 p1, ReLU', x: [2, 5, 6, 3], co: 5, k: 3, stride: 1, pad: 1, groups: 1, relu: true, bias: false, affine: true, gpuRouting: true },
  // ... 4-channel reads, groups, stride
  { name: '2 groups, 8 channels, 3×3 s2 p1, ReLU', x: [4, 6, 5, 8], co: 12, k: 3, stride: 2, pad: 1, groups: 2, relu: true, bias: false, affine: true, gpuRouting: true },
  { name: 'no affine, 1×1 s2, ReLU', x: [2, 5, 5, 6], co: 4, k: 1, stride: 2, pad: 0, groups: 1, relu: true, bias: false, affine: false, gpuRouting: true },
  // im2col: the map materialised for the call
  { name: '3×3 on lavapipe\'s im2col, 2 groups', x: [4, 5, 4, 4], co: 4, k: 3, stride: 1, pad: 1, groups: 2, relu: true, bias: false, affine: true, gpuRouting: false },
  // matmul.wgsl NORM_A / NORM_B: 4-channel reads, the mask in the reduction pass (C % 4 = 0)
  { name: '16 channels, 1×1, ReLU', x: [3, 4, 4, 16], co: 8, k: 1, stride: 1, pad: 0, groups: 1, relu: true, bias: false, affine: true, gpuRouting: false },
  { name: 'batch 1, 1×1 + bias, no ReLU', x: [1, 3, 3, 4], co: 6, k: 1, stride: 1, pad: 0, groups: 1, relu: false, bias: true, affine: true, gpuRouting: false },
  // ... element reads, groups
  { name: '2 groups, 6 channels, 1×1, ReLU', x: [4, 3, 5, 6], co: 5, k: 1, stride: 1, pad: 0, groups: 2, relu: true, bias: false, affine: true, gpuRouting: false },
  // 1,024 pixels into an 8×8 weight gradient: split over the pixels (split-K).
  { name: '2 groups, 1×1 split-K weight gradient, ReLU', x: [4, 16, 16, 8], co: 8, k: 1, stride: 1, pad: 0, groups: 2, relu: true, bias: false, affine: true, gpuRouting: false },
];

/** The case's loss Σ conv(bn(x))·R, backward; returns [z, dx, dgamma, dbeta, dw, dbias, running mean, running var] on the host. */
async function run(be: Backend, c: Case, fold: boolean): Promise<Float64Array[]> {
  const rng = new Rng(11);
  const make = (shape: readonly number[], lo = -1, hi = 1, grad = true): Tensor =>
    tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(lo, hi)), shape, { backend: be, requiresGrad: grad });
  const x = make(c.x, -2, 2), C = c.x[3];
  const gamma = c.affine ? make([C], 0.5, 1.5) : null, beta = c.affine ? make([C], -0.5, 0.5) : null;
  const w = make([c.co, C, c.k, c.k]), bias = c.bias ? make([c.co]) : null;
  const runningMean = make([C], 0, 0, false), runningVar = make([C], 1, 1, false);
  const bn = { gamma, beta, runningMean, runningVar, training: true, relu: c.relu, groups: c.groups };
  const conv = { stride: c.stride, padding: c.pad };
  const z = tidy(() => {
    const out = fold ? batchNormConv2d(x, bn, w, bias, conv) : conv2d(batchNorm(x, bn), w, bias, conv);
    const R = make(out.shape, -1, 1, false);
    backward(sum(mul(out, R)));
    return out;
  });
  const host = async (t: Tensor | null | undefined) => (t ? Float64Array.from(await t.data()) : new Float64Array(0));
  return [await host(z), await host(x.grad), await host(gamma?.grad), await host(beta?.grad), await host(w.grad), await host(bias?.grad),
    await host(runningMean), await host(runningVar)];
}
const names = ['output', 'dx', 'dgamma', 'dbeta', 'dw', 'dbias', 'running mean', 'running var'];

function assertAllClose(what: string, got: Float64Array[], want: Float64Array[], tol: number): void {
  got.forEach((g, i) => {
    assert.is(g.length, want[i].length, `${what}: ${names[i]} length`);
    const e = maxRelErr(g, want[i]);
    assert.ok(e <= tol, `${what}: ${names[i]} max relative error ${e.toExponential(2)} > ${tol}`);
  });
}

for (const c of cases) {
  test(`batchNormConv2d = conv2d(batchNorm) on the CPU reference: ${c.name}`, async () => {
    // The reference materialises the same map the composition does: equal to rounding.
    assertAllClose(c.name, await run(cpu(), c, true), await run(cpu(), c, false), 1e-6);
  });
}

test('batchNormConv2d with only the weight needing a gradient: the same dW, no input gradient', () => {
  const rng = new Rng(3);
  const make = (shape: number[], grad: boolean) =>
    tensor(Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(-1, 1)), shape, { backend: cpu(), dtype: 'f64', requiresGrad: grad });
  const x = make([2, 4, 3, 4], false), gamma = make([4], false), beta = make([4], false), W = make([3, 4, 3, 3], false);
  const grads = [true, false].map((fold) => {
    const w = tensor(W.dataSync().slice(), W.shape, { backend: cpu(), dtype: 'f64', requiresGrad: true });
    const bn = { gamma, beta, training: true, relu: true };
    const z = fold ? batchNormConv2d(x, bn, w, null, { padding: 1 }) : conv2d(batchNorm(x, bn), w, null, { padding: 1 });
    backward(sum(mul(z, z)));
    assert.is(x.grad, null);
    return Float64Array.from(w.grad!.dataSync());
  });
  assert.ok(maxRelErr(grads[0], grads[1]) <= 1e-12, `dW differs: ${maxRelErr(grads[0], grads[1])}`);
});

test('batchNormConv2d on the GPU matches the CPU reference', async () => {
  const gpu = await gpuBackendOrSkip('batch-norm fold');
  if (!gpu) return;
  const ctx = (await gpuHandle())!.runtime;
  for (const c of cases) {
    // The GPU's routing here with the small shared tile CI checks (the GPU's own tiles take
    // minutes to compile on lavapipe; the hooks are the same in every tile); lavapipe's own
    // routing with the map applied in the reads of its barrier-free tiles too (by default it
    // materialises the map there).
    if (c.gpuRouting) { overrideSoftwareDevice(ctx, false); setGemmTile('shared16x64pw'); }
    const before = setNormInReads(true);
    try {
      assertAllClose(`${c.name} (GPU vs CPU)`, await run(gpu, c, true), await run(cpu(), c, true), 1e-4);
    } finally {
      setNormInReads(before);
      if (c.gpuRouting) { overrideSoftwareDevice(ctx, null); setGemmTile(null); }
    }
  }
});

/** The bytes of the distinct storages the graph behind `root` saved for backward. */
function savedBytes(root: Tensor): number {
  const storages = new Set<Storage>(), seen = new Set<Tensor>(), todo = [root];
  while (todo.length) {
    const t = todo.pop()!;
    if (seen.has(t) || !t.node) continue;
    seen.add(t);
    for (const s of t.node.saved) storages.add(s.storage);
    todo.push(...t.node.inputs);
  }
  return [...storages].reduce((a, s) => a + s.bytes, 0);
}

/**
 * Three residual blocks (a bottleneck with a projection, a strided bottleneck, a basic block):
 * one training-mode forward and backward with the fold on or off. Returns the parameters'
 * gradients and the running variances after it, and the bytes the forward saved for backward.
 */
async function blocksStep(be: Backend, fold: boolean): Promise<{ values: Float64Array[]; kept: number }> {
  const before = process.env.COENGINE_FOLD_BN;
  process.env.COENGINE_FOLD_BN = fold ? '1' : '0';
  try {
    const layer = { backend: be, rng: new Rng(5) };
    const common = { padding: 'same', layer } as const;
    const net = new Sequential(
      new Bottleneck({ inplanes: 8, planes: 4, stride: 1, k1: 3, k2: 3, ...common }),
      new Bottleneck({ inplanes: 16, planes: 8, stride: 2, k1: 3, k2: 3, ...common }),
      new BasicBlock({ inplanes: 32, planes: 32, stride: 1, k1: 3, k2: 3, ...common }));
    const rng = new Rng(4);
    const x = tensor(Float32Array.from({ length: 4 * 12 * 10 * 8 }, () => rng.uniform(-1, 1)), [4, 12, 10, 8], { backend: be });
    let kept = 0;
    tidy(() => {
      const y = net.forward(x);
      kept = savedBytes(y);
      backward(sum(mul(y, y)));
    });
    const tensors = [...net.parameters().map((p) => p.grad!), ...[...net.namedBuffers()].filter(([n]) => n.endsWith('running_var')).map(([, t]) => t)];
    const values = await Promise.all(tensors.map(async (t) => Float64Array.from(await t.data())));
    x.dispose();
    return { values, kept };
  } finally {
    if (before === undefined) delete process.env.COENGINE_FOLD_BN; else process.env.COENGINE_FOLD_BN = before;
  }
}

function assertSameValues(what: string, folded: Float64Array[], composed: Float64Array[], tol: number): void {
  assert.is(folded.length, composed.length);
  folded.forEach((v, i) => {
    const e = maxRelErr(v, composed[i]);
    assert.ok(e <= tol, `${what}: tensor ${i} max relative error ${e.toExponential(2)}`);
  });
}

/**
 * What the fold saves: the five normalised maps (blocks 1 and 2: after bn1 and bn2; block 3:
 * after bn1), f32. (Both forms keep beta for the ReLU masks, remade from x.)
 */
const foldSaving = 4 * [[4, 12, 10, 4], [4, 12, 10, 4], [4, 12, 10, 8], [4, 6, 5, 8], [4, 6, 5, 32]].reduce((a, s) => a + s.reduce((p, d) => p * d, 1), 0);

for (const where of ['CPU reference', 'GPU'] as const) {
  test(`residual blocks on the ${where}: the folded step has the composed step's gradients and running statistics, and saves the normalised maps`, async () => {
    const be = where === 'GPU' ? await gpuBackendOrSkip('batch-norm fold') : cpu();
    if (!be) return;
    const folded = await blocksStep(be, true), composed = await blocksStep(be, false);
    assertSameValues(where, folded.values, composed.values, where === 'GPU' ? 1e-4 : 1e-6);
    assert.is(composed.kept - folded.kept, foldSaving, `saved for backward: ${folded.kept} bytes folded, ${composed.kept} composed`);
    if (where === 'GPU') {
      // lavapipe materialises the map by default: the same again with it applied in the GEMMs'
      // reads, alone and with the statistics made in their epilogues (COENGINE_FUSE_BN_STATS=1:
      // an epilogue on the output and the norm on the input of one kernel).
      const inReads = setNormInReads(true);
      try {
        const r = await blocksStep(be, true);
        assertSameValues('GPU, the map in the reads', r.values, composed.values, 1e-4);
        assert.is(r.kept, folded.kept);
        const fusion = setColumnStatsFusion(true);
        try {
          assertSameValues('GPU, the map in the reads, statistics in the epilogues', (await blocksStep(be, true)).values, composed.values, 1e-4);
        } finally {
          setColumnStatsFusion(fusion);
        }
      } finally {
        setNormInReads(inReads);
      }
    }
  });
}

test('batch norm + ReLU before max pooling (a stem): its output is not saved for backward, and the gradients match the composed ops', async () => {
  for (const be of [cpu(), await gpuBackendOrSkip('batch-norm fold')]) {
    if (!be) continue;
    const rng = new Rng(8);
    const make = (shape: number[], lo: number, hi: number) =>
      tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(lo, hi)), shape, { backend: be, requiresGrad: true });
    const x = make([2, 6, 6, 8], -2, 2), gamma = make([8], 0.5, 1.5), beta = make([8], -0.5, 0.5);
    const grads = async (fused: boolean): Promise<Float64Array[]> => {
      const y = fused ? batchNorm(x, { gamma, beta, training: true, relu: true }) : relu(batchNorm(x, { gamma, beta, training: true }));
      const p = maxPool2d(y, { kernel: 3, stride: 2, padding: 1 });
      if (fused) {
        let kept = false;
        for (let t: Tensor | undefined = p; t?.node; t = t.node.inputs[0]) kept ||= t.node.saved.some((s) => s.storage === y.storage);
        assert.not.ok(kept, 'the fused batch norm + ReLU output is saved for backward');
      }
      backward(sum(mul(p, p)));
      const out = await Promise.all([x, gamma, beta].map(async (t) => Float64Array.from(await t.grad!.data())));
      for (const t of [x, gamma, beta]) { t.grad!.dispose(); t.grad = null; }
      return out;
    };
    const a = await grads(true), b = await grads(false);
    assertSameValues(be.name, a, b, 1e-5);
  }
});

test.run();
