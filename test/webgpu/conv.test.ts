// Convolution parity vs the CPU backend (forward, backward-data, backward-weight): 1×1 (the
// plain-GEMM path and the strided implicit path), 3×3 and 7×7, stride 2, padding, non-square
// maps, batch 1, channel counts that are and are not multiples of 4, bias, fused epilogue, and
// forced split-K. Small enough for lavapipe.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu } from '../../src/backend/registry.js';
import type { Conv2dParams } from '../../src/backend/backend.js';
import { convOutSize } from '../../src/runtime/shape.js';
import { conv2d, conv2dBackwardData, conv2dBackwardWeight, gatherChunk, setFastDivisionLimit, type Geometry } from '../../src/backend/webgpu/ops/conv.js';
import type { GpuStorage } from '../../src/backend/webgpu/context.js';
import { GEMM_TILES, overrideSoftwareDevice } from '../../src/backend/webgpu/ops/gemm.js';
import { assertClose, cpuData, cpuRaw, gpuRaw, randomF32, readF32, runtime, skipNotice } from './kernel_parity.js';

interface Case { N: number; H: number; W: number; C: number; Co: number; k: [number, number]; s: [number, number]; p: [number, number] }

const cases: Case[] = [
  { N: 2, H: 5, W: 7, C: 8, Co: 12, k: [1, 1], s: [1, 1], p: [0, 0] },   // plain GEMM path
  { N: 1, H: 7, W: 6, C: 3, Co: 5, k: [1, 1], s: [2, 2], p: [0, 0] },    // strided 1×1 (downsample)
  { N: 2, H: 6, W: 5, C: 4, Co: 8, k: [3, 3], s: [1, 1], p: [1, 1] },    // vec4 loads
  { N: 1, H: 9, W: 7, C: 5, Co: 7, k: [3, 3], s: [2, 2], p: [1, 1] },    // odd channels, stride 2
  { N: 1, H: 11, W: 10, C: 3, Co: 8, k: [7, 7], s: [2, 2], p: [3, 3] }, // ResNet stem shape family
  { N: 2, H: 6, W: 8, C: 4, Co: 4, k: [3, 2], s: [1, 2], p: [0, 1] },    // non-square kernel, mixed stride
  { N: 2, H: 7, W: 9, C: 8, Co: 12, k: [3, 3], s: [2, 2], p: [1, 1] },   // vec4 loads, stride 2, odd map
  { N: 1, H: 8, W: 6, C: 8, Co: 4, k: [1, 1], s: [2, 2], p: [0, 0] },    // vec4 strided 1×1 (downsample)
  // 1 and 2 channels: unaligned operand runs stepping across taps and tap rows (mm_readA4u/B4u)
  { N: 2, H: 7, W: 5, C: 1, Co: 3, k: [3, 2], s: [2, 1], p: [1, 0] },
  { N: 1, H: 6, W: 9, C: 2, Co: 5, k: [2, 5], s: [1, 2], p: [0, 2] },
  { N: 2, H: 19, W: 18, C: 3, Co: 4, k: [7, 7], s: [2, 2], p: [3, 3] }, // a stem whose windows mostly lie inside the image
];

function label(c: Case): string {
  return `N${c.N} ${c.H}×${c.W}×${c.C}→${c.Co} k${c.k.join('×')} s${c.s.join(',')} p${c.p.join(',')}`;
}

async function checkCase(c: Case, seed: number, splits?: number, path?: 'implicit' | 'im2col', tileName?: string, phases?: boolean,
  mapping?: 'pixel' | 'channel4'): Promise<void> {
  const tile = tileName ? GEMM_TILES[tileName] : undefined;
  const ctx = (await runtime())!;
  const p: Conv2dParams = { stride: c.s, pad: c.p };
  const xShape = [c.N, c.H, c.W, c.C], wShape = [c.Co, c.C, c.k[0], c.k[1]];
  const Ho = convOutSize(c.H, c.k[0], c.s[0], c.p[0]), Wo = convOutSize(c.W, c.k[1], c.s[1], c.p[1]);
  const yShape = [c.N, Ho, Wo, c.Co];
  const nx = c.N * c.H * c.W * c.C, nw = c.Co * c.C * c.k[0] * c.k[1], ny = c.N * Ho * Wo * c.Co;
  const X = randomF32(nx, seed), Wt = randomF32(nw, seed + 1), B = randomF32(c.Co, seed + 2), G = randomF32(ny, seed + 3);
  const K = c.C * c.k[0] * c.k[1];
  const tol = 3e-6 * Math.sqrt(K + ny);

  const yWant = await cpuData(cpu().conv2d(cpuRaw(X, xShape), cpuRaw(Wt, wShape), cpuRaw(B, [c.Co]), p), [ny]);
  const y = conv2d(ctx, gpuRaw(ctx, X, xShape), gpuRaw(ctx, Wt, wShape), gpuRaw(ctx, B, [c.Co]), p, { path, tile, mapping });
  assertClose(`conv2d ${label(c)} ${path ?? 'auto'} ${tileName ?? ''} ${mapping ?? ''}`, await readF32(ctx, y, ny), yWant, tol);

  const dxWant = await cpuData(cpu().conv2dBackwardData(cpuRaw(G, yShape), cpuRaw(Wt, wShape), xShape, p), [nx]);
  const dx = conv2dBackwardData(ctx, gpuRaw(ctx, G, yShape), gpuRaw(ctx, Wt, wShape), xShape, p, { path, tile, phases, mapping });
  assertClose(`conv2dBackwardData ${label(c)} ${path ?? 'auto'} ${tileName ?? ''} phases ${phases ?? 'auto'} ${mapping ?? ''}`, await readF32(ctx, dx, nx), dxWant, tol);

  const dwWant = await cpuData(cpu().conv2dBackwardWeight(cpuRaw(X, xShape), cpuRaw(G, yShape), wShape, p), [nw]);
  const dw = conv2dBackwardWeight(ctx, gpuRaw(ctx, X, xShape), gpuRaw(ctx, G, yShape), wShape, p, { splits, path, tile, mapping });
  assertClose(`conv2dBackwardWeight ${label(c)} splits ${splits ?? 'auto'} ${path ?? 'auto'} ${tileName ?? ''} ${mapping ?? ''}`, await readF32(ctx, dw, nw), dwWant, tol);
}

// A residual input's other gradient joins dx: in the GEMM epilogue of a 1×1 stride-1
// convolution and of the implicit k×k path (vec4 and scalar stores), by a separate add on the
// gather and phase-class paths; both routings.
test('backward-data with accumulate: dx + the gradient from x\'s other consumers', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  for (const software of [true, false]) {
    overrideSoftwareDevice(ctx, software);
    try {
      const oddStride1: Case = { N: 1, H: 5, W: 6, C: 3, Co: 5, k: [3, 3], s: [1, 1], p: [1, 1] };
      for (const c of [cases[0], cases[1], cases[2], cases[3], cases[5], cases[7], oddStride1]) {
        const p: Conv2dParams = { stride: c.s, pad: c.p };
        const xShape = [c.N, c.H, c.W, c.C], wShape = [c.Co, c.C, c.k[0], c.k[1]];
        const yShape = [c.N, convOutSize(c.H, c.k[0], c.s[0], c.p[0]), convOutSize(c.W, c.k[1], c.s[1], c.p[1]), c.Co];
        const nx = c.N * c.H * c.W * c.C;
        const G = randomF32(yShape.reduce((a, b) => a * b, 1), 51), Wt = randomF32(wShape.reduce((a, b) => a * b, 1), 52), R = randomF32(nx, 53);
        const want = await cpuData(cpu().conv2dBackwardData(cpuRaw(G, yShape), cpuRaw(Wt, wShape), xShape, p, cpuRaw(R, xShape)), [nx]);
        const plain = await cpuData(cpu().conv2dBackwardData(cpuRaw(G, yShape), cpuRaw(Wt, wShape), xShape, p), [nx]);
        assertClose(`CPU accumulate ${label(c)}`, want, plain.map((v, i) => v + R[i]), 1e-6); // f32 storage: one rounding apart
        const dx = conv2dBackwardData(ctx, gpuRaw(ctx, G, yShape), gpuRaw(ctx, Wt, wShape), xShape, p, { accumulate: gpuRaw(ctx, R, xShape) });
        assertClose(`conv2dBackwardData + accumulate ${label(c)} ${software ? 'software' : 'GPU'} routing`, await readF32(ctx, dx, nx), want, 1e-5);
      }
    } finally {
      overrideSoftwareDevice(ctx, null);
    }
  }
  const c = cases[0];
  assert.throws(() => conv2dBackwardData(ctx, gpuRaw(ctx, randomF32(2 * 5 * 7 * 12, 1), [2, 5, 7, 12]), gpuRaw(ctx, randomF32(96, 2), [12, 8, 1, 1]),
    [c.N, c.H, c.W, c.C], { stride: c.s, pad: c.p }, { accumulate: gpuRaw(ctx, randomF32(10, 3), [10]) }), /accumulate has shape \[10\], x has \[2, 5, 7, 8\]/);
});

for (const path of ['implicit', 'im2col'] as const) {
  test(`forward, backward-data and backward-weight match the CPU backend (${path} path)`, async () => {
    if (!(await runtime())) return skipNotice('conv.test');
    let seed = 10;
    for (const c of cases) await checkCase(c, (seed += 10), undefined, path);
  });
}

// What a real GPU runs: workgroup-memory tiles (software devices pick barrier-free ones).
test('the shared-memory GEMM tiles (GPU path) give the same convolutions', async () => {
  if (!(await runtime())) return;
  let seed = 500;
  for (const tile of ['shared32', 'shared64p']) for (const c of tile === 'shared32' ? cases : cases.filter((c) => c.C % 4 === 0)) await checkCase(c, (seed += 10), undefined, 'implicit', tile);
  // Generated register blocks (the writes go through the same hooks, unaligned runs included).
  for (const c of cases.filter((c) => c.C % 4 !== 0).slice(0, 3)) await checkCase(c, (seed += 10), undefined, 'implicit', 'shared32pg');
  // The wide tiles GPUs pick by kind (chooseTile): 4×8 and 8×4 register blocks, 16-deep slices.
  for (const tile of ['shared64x128', 'shared128x64']) for (const c of cases.filter((c) => c.C % 4 === 0).slice(0, 3)) await checkCase(c, (seed += 10), undefined, 'implicit', tile);
});

test('strided backward-data: phase classes and the single strided GEMM agree with the CPU', async () => {
  if (!(await runtime())) return;
  const strided: Case[] = [
    ...cases.filter((c) => c.s[0] > 1 || c.s[1] > 1),
    { N: 1, H: 1, W: 5, C: 4, Co: 4, k: [3, 3], s: [2, 2], p: [1, 1] },    // a class with no rows
    { N: 2, H: 9, W: 8, C: 8, Co: 8, k: [3, 3], s: [3, 2], p: [0, 2] },    // stride 3, pad > k/2
    { N: 1, H: 6, W: 7, C: 4, Co: 8, k: [2, 2], s: [2, 2], p: [0, 0] },    // one tap per class
  ];
  let seed = 900;
  for (const c of strided) {
    for (const phases of [true, false]) await checkCase(c, (seed += 10), undefined, 'implicit', undefined, phases);
    await checkCase(c, (seed += 10), undefined, 'implicit', 'shared32', true);
  }
});

// The explicit path (im2col → GEMM; GEMM → col2im for backward-data, the GPU default for strided
// backward-data) with both thread mappings of its gather kernels: per pixel (software devices)
// and per pixel and 4 channels (GPUs, C % 4 == 0).
test('explicit im2col / col2im path, per pixel and per 4 channels, agrees with the CPU', async () => {
  if (!(await runtime())) return;
  const extra: Case[] = [
    { N: 1, H: 1, W: 5, C: 4, Co: 4, k: [3, 3], s: [2, 2], p: [1, 1] },     // one row of pixels
    { N: 2, H: 9, W: 8, C: 8, Co: 8, k: [3, 3], s: [3, 2], p: [0, 2] },     // stride 3, pad > k/2
    { N: 3, H: 10, W: 6, C: 12, Co: 20, k: [3, 3], s: [2, 2], p: [1, 1] },  // several 4-channel groups
  ];
  let seed = 1300;
  for (const c of [...cases, ...extra]) {
    for (const mapping of c.C % 4 === 0 ? ['pixel', 'channel4'] as const : ['pixel'] as const) {
      await checkCase(c, (seed += 10), undefined, 'im2col', undefined, undefined, mapping);
    }
  }
});

/** A backward-data problem: dy, weights and the CPU backend's dx. */
async function dxProblem(c: Case, seed: number) {
  const p: Conv2dParams = { stride: c.s, pad: c.p };
  const Ho = convOutSize(c.H, c.k[0], c.s[0], c.p[0]), Wo = convOutSize(c.W, c.k[1], c.s[1], c.p[1]);
  const xShape = [c.N, c.H, c.W, c.C], wShape = [c.Co, c.C, c.k[0], c.k[1]], yShape = [c.N, Ho, Wo, c.Co];
  const nx = c.N * c.H * c.W * c.C;
  const Wt = randomF32(c.Co * c.C * c.k[0] * c.k[1], seed), G = randomF32(c.N * Ho * Wo * c.Co, seed + 1);
  const want = await cpuData(cpu().conv2dBackwardData(cpuRaw(G, yShape), cpuRaw(Wt, wShape), xShape, p), [nx]);
  const run = (ctx: NonNullable<Awaited<ReturnType<typeof runtime>>>, opts: Parameters<typeof conv2dBackwardData>[5]) =>
    conv2dBackwardData(ctx, gpuRaw(ctx, G, yShape), gpuRaw(ctx, Wt, wShape), xShape, p, opts) as GpuStorage;
  return { nx, want, perImage: 4 * Ho * Wo * c.k[0] * c.k[1] * c.C, run };
}

// dcol made a few images at a time when the whole would pass the temporary cap: one image per
// chunk, two (2, 2, 1), and all at once.
test('explicit backward-data in image chunks agrees with the CPU', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  const { nx, want, perImage, run } = await dxProblem({ N: 5, H: 4, W: 4, C: 16, Co: 16, k: [3, 3], s: [2, 2], p: [1, 1] }, 1501);
  for (const mapping of ['pixel', 'channel4'] as const) {
    for (const maxTempBytes of [perImage, 2 * perImage + 100, 100 * perImage]) {
      const dx = run(ctx, { path: 'im2col', mapping, maxTempBytes });
      assertClose(`chunked dx ${mapping} cap ${maxTempBytes}`, await readF32(ctx, dx, nx), want, 1e-5);
    }
  }
});

// What a GPU does by default for strided backward-data (dcol GEMM + the 4-channel gather, in
// image chunks under the cap), run on lavapipe by taking the GPU code paths there.
test('GPU routing: strided backward-data by default goes through dcol and the gather', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  const N = 3;
  const { nx, want, perImage, run } = await dxProblem({ N, H: 7, W: 6, C: 8, Co: 12, k: [3, 3], s: [2, 2], p: [1, 1] }, 1601);
  overrideSoftwareDevice(ctx, false);
  try {
    for (const maxTempBytes of [undefined, perImage]) { // whole; one image per chunk
      let dx: GpuStorage | null = null;
      const { rows } = await ctx.profileDispatches(() => { dx = run(ctx, { maxTempBytes }); });
      const gathers = rows.find((r) => r.name.startsWith('conv2d col2im'))?.count ?? 0;
      assert.is(gathers, maxTempBytes ? N : 1, `gather dispatches (cap ${maxTempBytes ?? 'default'}): ${rows.map((r) => r.name).join(', ')}`);
      assertClose(`GPU-routed dx cap ${maxTempBytes ?? 'default'}`, await readF32(ctx, dx!, nx), want, 1e-5);
    }
  } finally {
    overrideSoftwareDevice(ctx, null);
  }
});

// Pure arithmetic (no device): chunk sizes under the cap, with every chunk's start in dy and dx
// on the binding-offset alignment, for alignments of 16 (lavapipe, the H100) and 256.
test('image chunks of the explicit backward-data: within the cap, starts aligned', () => {
  const geo = (N: number, H: number, C: number, Co: number, k: number, s: number): Geometry => {
    const Ho = Math.floor((H + 2 * (k >> 1) - k) / s) + 1;
    return { N, H, W: H, C, Co, KH: k, KW: k, Ho, Wo: Ho, sh: s, sw: s, ph: k >> 1, pw: k >> 1 };
  };
  for (const align of [16, 256]) {
    const ctx = { limits: { minStorageBufferOffsetAlignment: align } as GPUSupportedLimits };
    for (const g of [geo(128, 112, 128, 128, 3, 2), geo(9, 7, 5, 3, 3, 2), geo(33, 5, 1, 7, 3, 3), geo(64, 56, 256, 512, 1, 2), geo(20, 4, 4, 4, 3, 2)]) {
      const perImage = 4 * g.Ho * g.Wo * g.KH * g.KW * g.C;
      for (const cap of [perImage - 1, perImage, 3 * perImage + 5, 10 * perImage, 40 * perImage, g.N * perImage]) {
        const chunk = gatherChunk(ctx, g, cap);
        assert.ok(chunk >= 0 && chunk <= g.N, `chunk ${chunk} of ${g.N}`);
        if (cap >= g.N * perImage) { assert.is(chunk, g.N); continue; }
        assert.ok(chunk * perImage <= cap, `chunk ${chunk} × ${perImage} B over the cap ${cap}`);
        if (chunk > 0) {
          assert.is((4 * chunk * g.Ho * g.Wo * g.Co) % align, 0, 'dy chunk start aligned');
          assert.is((4 * chunk * g.H * g.W * g.C) % align, 0, 'dx chunk start aligned');
        }
      }
    }
  }
  // dy starts every 64 bytes per image: with 256-byte alignment, chunks of 4 images (8 under a 10-image cap).
  assert.is(gatherChunk({ limits: { minStorageBufferOffsetAlignment: 256 } as GPUSupportedLimits }, geo(20, 4, 4, 4, 3, 2), 10 * 576), 8);
  // 2 GiB binding limit, 1 GiB cap: RF99-ResNet50's layer 2 at 128 images (1.85 GB) in 2+ chunks.
  const rf99 = geo(128, 112, 128, 128, 3, 2);
  assert.ok(gatherChunk({ limits: { minStorageBufferOffsetAlignment: 16 } as GPUSupportedLimits }, rf99, 2 ** 30) >= 64);
});

test('backward-weight split-K: one layer, several, and a ragged last chunk', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  const c = cases[3];
  for (const splits of [1, 3, 5]) await checkCase(c, 99, splits, 'implicit');
  // The GPU's lane-parallel reduction into OIHW (more slices than its 8 lanes, ragged).
  overrideSoftwareDevice(ctx, false);
  try {
    for (const splits of [11, 20]) await checkCase(cases[6], 98, splits, 'implicit', 'shared32');
  } finally {
    overrideSoftwareDevice(ctx, null);
  }
});

// Backward-weight divides pixel indices through float reciprocals below 2^24 pixels and exactly
// above; the exact branch, forced here, must agree too.
test('backward-weight with exact pixel division (the branch for ≥ 2^24 pixels)', async () => {
  if (!(await runtime())) return;
  setFastDivisionLimit(0);
  try {
    let seed = 700;
    for (const c of cases.filter((c) => c.k[0] > 1)) await checkCase(c, (seed += 10), 3, 'implicit');
  } finally {
    setFastDivisionLimit(null);
  }
});

test('fused residual + ReLU epilogue on the implicit and the plain-GEMM path', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  for (const c of [cases[0], cases[2]]) {
    const p: Conv2dParams = { stride: c.s, pad: c.p };
    const xShape = [c.N, c.H, c.W, c.C], wShape = [c.Co, c.C, c.k[0], c.k[1]];
    const ny = c.N * convOutSize(c.H, c.k[0], 1, c.p[0]) * convOutSize(c.W, c.k[1], 1, c.p[1]) * c.Co;
    const X = randomF32(c.N * c.H * c.W * c.C, 5), Wt = randomF32(c.Co * c.C * c.k[0] * c.k[1], 6), R = randomF32(ny, 7);
    const plain = await cpuData(cpu().conv2d(cpuRaw(X, xShape), cpuRaw(Wt, wShape), null, p), [ny]);
    const want = plain.map((v, i) => Math.max(0, v + R[i]));
    for (const path of ['implicit', 'im2col'] as const) {
      const y = conv2d(ctx, gpuRaw(ctx, X, xShape), gpuRaw(ctx, Wt, wShape), null, p, { path, epilogue: { residual: ctx.upload(R), relu: true } });
      assertClose(`conv2d+residual+relu ${label(c)} ${path}`, await readF32(ctx, y, ny), want, 1e-5);
    }
  }
});


// Stride-2 weight gradients as the stride-1 ⌈k/2⌉² convolution of x's space-to-depth
// rearrangement (what GPUs run for the 7×7/2 stem on RGB): odd and even kernels, non-square ones
// with unequal padding, 1, 3 and 5 channels, batch 1, maps whose last phase row or column is
// partly outside the image, forced split-K and a shared-memory tile.
test('backward-weight through space-to-depth matches the CPU backend', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  const s2d: Case[] = [
    ...cases.filter((c) => c.s[0] === 2 && c.s[1] === 2 && c.k[0] > 1 && c.k[1] > 1),
    { N: 1, H: 10, W: 9, C: 3, Co: 6, k: [4, 4], s: [2, 2], p: [1, 1] },
    { N: 2, H: 9, W: 12, C: 1, Co: 5, k: [5, 3], s: [2, 2], p: [2, 0] },
    { N: 1, H: 8, W: 8, C: 5, Co: 4, k: [2, 2], s: [2, 2], p: [0, 0] },
  ];
  let seed = 900;
  for (const c of s2d) {
    for (const o of [{}, { splits: 3 }, { tile: 'shared32' }] as { splits?: number; tile?: string }[]) {
      const p: Conv2dParams = { stride: c.s, pad: c.p };
      const xShape = [c.N, c.H, c.W, c.C], wShape = [c.Co, c.C, c.k[0], c.k[1]];
      const yShape = [c.N, convOutSize(c.H, c.k[0], 2, c.p[0]), convOutSize(c.W, c.k[1], 2, c.p[1]), c.Co];
      const nw = c.Co * c.C * c.k[0] * c.k[1];
      const X = randomF32(c.N * c.H * c.W * c.C, (seed += 10)), G = randomF32(yShape.reduce((a, b) => a * b, 1), seed + 1);
      const want = await cpuData(cpu().conv2dBackwardWeight(cpuRaw(X, xShape), cpuRaw(G, yShape), wShape, p), [nw]);
      const dw = conv2dBackwardWeight(ctx, gpuRaw(ctx, X, xShape), gpuRaw(ctx, G, yShape), wShape, p,
        { spaceToDepth: true, splits: o.splits, tile: o.tile ? GEMM_TILES[o.tile] : undefined });
      assertClose(`space-to-depth dW ${label(c)} ${JSON.stringify(o)}`, await readF32(ctx, dw, nw), want, 3e-6 * Math.sqrt(c.C * c.k[0] * c.k[1] + G.length));
    }
  }
  // Into a gradient sink: a view at an offset of a flat gradient buffer, as training passes it.
  {
    const c = cases[4], p: Conv2dParams = { stride: c.s, pad: c.p };
    const xShape = [c.N, c.H, c.W, c.C], wShape = [c.Co, c.C, 7, 7], nw = c.Co * c.C * 49;
    const yShape = [c.N, convOutSize(c.H, 7, 2, 3), convOutSize(c.W, 7, 2, 3), c.Co];
    const X = randomF32(c.N * c.H * c.W * c.C, 971), G = randomF32(yShape.reduce((a, b) => a * b, 1), 972);
    const want = await cpuData(cpu().conv2dBackwardWeight(cpuRaw(X, xShape), cpuRaw(G, yShape), wShape, p), [nw]);
    const flat = ctx.alloc(4 * (64 + nw), true);
    const sink = ctx.view(flat, 256, 4 * nw);
    const dw = conv2dBackwardWeight(ctx, gpuRaw(ctx, X, xShape), gpuRaw(ctx, G, yShape), wShape, p, { spaceToDepth: true, into: sink });
    assert.is(dw, sink, 'written into the sink');
    assertClose(`space-to-depth dW into a sink ${label(c)}`, await readF32(ctx, dw, nw), want, 3e-6 * Math.sqrt(147 + G.length));
    assert.equal(Array.from(await readF32(ctx, flat, 64)), new Array(64).fill(0), 'nothing written before the sink');
    ctx.release(flat);
  }
  assert.throws(() => conv2dBackwardWeight(ctx, gpuRaw(ctx, randomF32(5 * 7 * 8 * 2, 1), [2, 5, 7, 8]), gpuRaw(ctx, randomF32(2 * 5 * 7 * 12, 2), [2, 5, 7, 12]),
    [12, 8, 1, 1], { stride: [1, 1], pad: [0, 0] }, { spaceToDepth: true }), /spaceToDepth needs stride 2×2/);
});

test('GPU routing takes space-to-depth for the RGB stem\'s weight gradient, and not for 3×3, 4-channel or 1×1 ones', async () => {
  const ctx = await runtime();
  if (!ctx || !ctx.features.has('timestamp-query')) return;
  const profile = async (c: Case) => {
    const p: Conv2dParams = { stride: c.s, pad: c.p };
    const yShape = [c.N, convOutSize(c.H, c.k[0], c.s[0], c.p[0]), convOutSize(c.W, c.k[1], c.s[1], c.p[1]), c.Co];
    const X = gpuRaw(ctx, randomF32(c.N * c.H * c.W * c.C, 7), [c.N, c.H, c.W, c.C]);
    const G = gpuRaw(ctx, randomF32(yShape.reduce((a, b) => a * b, 1), 8), yShape);
    overrideSoftwareDevice(ctx, false);
    try {
      return (await ctx.profileDispatches(() => { conv2dBackwardWeight(ctx, X, G, [c.Co, c.C, c.k[0], c.k[1]], p); })).dispatches;
    } finally {
      overrideSoftwareDevice(ctx, null);
    }
  };
  const stem = await profile(cases[4]); // [1, 11, 10, 3] * [8, 3, 7, 7], stride 2, padding 3: output 6×5
  const labels = stem.map((d) => d.label).join('\n');
  assert.ok(stem.some((d) => d.label.startsWith('conv2d space-to-depth')), labels);
  const gemmRow = stem.find((d) => d.label.startsWith('conv2d dw space-to-depth [1, 9, 8, 12]*[8, 12, 4, 4] s1×1 p0×0'));
  assert.ok(gemmRow, labels);
  // its profile rate counts the stem's own multiply-adds, not the padded taps'
  assert.is(gemmRow!.flops, 2 * 1 * 6 * 5 * 8 * 3 * 7 * 7);
  for (const c of [cases[3], cases[6], cases[7]]) { // 3×3 over 5 channels, 3×3 over 8, a 1×1 downsample
    const l = (await profile(c)).map((d) => d.label);
    assert.not.ok(l.some((x) => x.includes('space-to-depth')), `${label(c)}: ${l.join('\n')}`);
  }
});

test.run();
