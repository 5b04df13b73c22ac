// GEMM core parity vs the CPU backend: every transpose variant, batched operands, sizes that are
// not multiples of any tile (odd, 1, prime), vec4 and scalar load paths, fused epilogues, and
// every tile config the device can run (small shapes: lavapipe runs this on 2 cores).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu } from '../../src/backend/registry.js';
import { matmul } from '../../src/backend/webgpu/ops/matmul.js';
import { GEMM_TILES, type GemmTile, chooseTile, isSoftwareDevice, overrideSoftwareDevice, setGemmBigTile, setGemmTile, setTileVariants, splitKReduce, tileName, splitKShape, validateTile } from '../../src/backend/webgpu/ops/gemm.js';
import { assertClose, cpuData, cpuRaw, gpuRaw, randomF32, readF32, runtime, skipNotice } from './kernel_parity.js';

interface Case { batch: number; M: number; N: number; K: number; tA: boolean; tB: boolean }

async function check(c: Case, tileName?: string, seed = 1, splitK?: number): Promise<void> {
  const ctx = await runtime();
  if (!ctx) return;
  const { batch, M, N, K, tA, tB } = c;
  const aShape = tA ? [K, M] : [M, K], bShape = tB ? [N, K] : [K, N];
  const as = batch ? [batch, ...aShape] : aShape, bs = batch ? [batch, ...bShape] : bShape;
  const nb = batch || 1;
  const A = randomF32(nb * M * K, seed), B = randomF32(nb * K * N, seed + 1);
  const want = await cpuData(cpu().matmul(cpuRaw(A, as), cpuRaw(B, bs), tA, tB), [nb * M * N]);
  const tile = tileName ? GEMM_TILES[tileName] : undefined;
  const got = await readF32(ctx, matmul(ctx, gpuRaw(ctx, A, as), gpuRaw(ctx, B, bs), tA, tB, { tile, splitK }), nb * M * N);
  assertClose(`matmul ${JSON.stringify(c)} tile ${tileName ?? 'auto'} splitK ${splitK ?? 'auto'}`, got, want, 2e-6 * Math.sqrt(K + 1));
}

test('every transpose variant on sizes that fit no tile', async () => {
  if (!(await runtime())) return skipNotice('gemm.test');
  for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    await check({ batch: 0, M: 37, N: 29, K: 43, tA, tB });  // scalar loads
    await check({ batch: 0, M: 36, N: 44, K: 52, tA, tB });  // vec4 loads, partial tiles
  }
});

test('degenerate and tiny shapes', async () => {
  if (!(await runtime())) return;
  await check({ batch: 0, M: 1, N: 1, K: 1, tA: false, tB: false });
  await check({ batch: 0, M: 1, N: 70, K: 5, tA: false, tB: true });
  await check({ batch: 0, M: 65, N: 1, K: 3, tA: true, tB: false });
  await check({ batch: 0, M: 4, N: 4, K: 257, tA: false, tB: false });
});

test('batched 3-D operands', async () => {
  if (!(await runtime())) return;
  await check({ batch: 3, M: 17, N: 12, K: 9, tA: false, tB: false });
  await check({ batch: 2, M: 8, N: 20, K: 16, tA: true, tB: true });
  await check({ batch: 1, M: 5, N: 7, K: 3, tA: false, tB: true });
});

test('shared-memory and direct paths, every tile config the device compiles quickly', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  // lavapipe needs seconds per barrier-heavy pipeline: there small shared configs (one and two
  // stages, array and generated register blocks, row and warp-blocked layouts) stand in for the
  // others (same code, different
  // constants); real GPUs check every config.
  // COENGINE_TEST_TILES=a,b checks those instead (new candidates, on lavapipe before a GPU run).
  const listed = process.env.COENGINE_TEST_TILES?.split(',').filter((n) => n.length > 0);
  for (const n of listed ?? []) assert.ok(GEMM_TILES[n], `COENGINE_TEST_TILES: unknown tile '${n}'`);
  const names = listed ?? (isSoftwareDevice(ctx) ? ['direct32', 'shared32', 'shared32p', 'shared32pd', 'shared32pg', 'shared16x64pw'] : Object.keys(GEMM_TILES));
  for (const name of names) {
    const t = GEMM_TILES[name];
    try { validateTile(ctx, t); } catch (e) { if (listed) throw e; continue; } // too big for this device's limits (listed ones must run)
    // Partial tiles in every direction, vec4 loads, several k-slices (prefetch path).
    await check({ batch: 0, M: t.BM + 4, N: t.BN + 8, K: 3 * t.BK + 4, tA: false, tB: false }, name, 7);
    // Transposed operands with scalar loads, batched.
    await check({ batch: 2, M: 33, N: 41, K: 2 * t.BK + 3, tA: true, tB: true }, name, 9);
  }
});

test('tile configs that cannot work are refused before compiling, naming why', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  const refused = (t: GemmTile, why: RegExp) => assert.throws(() => validateTile(ctx, t), (e: Error) => why.test(e.message));
  refused({ BM: 32, BN: 16, BK: 8, TM: 4, TN: 4, shared: true, warp: true }, /warp-blocked layout/); // 4 threads across
  refused({ BM: 8, BN: 64, BK: 8, TM: 4, TN: 4, shared: true, warp: true }, /warp-blocked layout/); // 2 down
  refused({ BM: 32, BN: 32, BK: 4, TM: 4, TN: 4, shared: false, warp: true }, /warp-blocked layout/);
  refused({ BM: 32, BN: 32, BK: 4, TM: 4, TN: 4, shared: false, gen: true }, /shared path/);
  refused({ BM: 32, BN: 32, BK: 6, TM: 4, TN: 4, shared: true }, /BK must be a multiple of 4/);
  validateTile(ctx, GEMM_TILES.shared16x64pw);
});

test('split-K: small outputs with a long reduction, ragged chunks, every transpose variant', async () => {
  if (!(await runtime())) return;
  for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    for (const splitK of [2, 5]) await check({ batch: 0, M: 6, N: 9, K: 1031, tA, tB }, undefined, 21, splitK);
  }
  // The automatic choice (a weight-gradient shape: [Cout, Cin] summed over many pixels).
  await check({ batch: 0, M: 8, N: 12, K: 4100, tA: true, tB: false }, undefined, 23);
  await check({ batch: 0, M: 8, N: 12, K: 4100, tA: true, tB: false }, 'shared32', 25, 3);
});

// What a GPU runs: 8 lanes per output share out the slices in the reduction (lavapipe otherwise
// keeps one thread per output), with slice counts below, at and above the lanes, and ragged.
test('split-K with the GPU routing: the lane-parallel reduction', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  overrideSoftwareDevice(ctx, false);
  try {
    for (const splitK of [3, 8, 13, 40]) await check({ batch: 0, M: 6, N: 9, K: 1031 * 4, tA: true, tB: false }, 'shared32', 27, splitK);
    await check({ batch: 0, M: 33, N: 70, K: 9000, tA: true, tB: false }, 'shared32', 29); // the automatic choice: many slices
  } finally {
    overrideSoftwareDevice(ctx, null);
  }
});

// Outputs beyond 65,535 workgroups fold the reduction's grid into 2-D (util.grid); no test shape
// is that large, so a context whose grid limit is 7 workgroups per dimension forces the folding.
test('split-K reduction over a grid folded into 2-D, OIHW order, both routings', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  const limits = new Proxy(ctx.limits, { get: (l, k) => (k === 'maxComputeWorkgroupsPerDimension' ? 7 : Reflect.get(l, k)) });
  const small = new Proxy(ctx, {
    get: (t, k) => { if (k === 'limits') return limits; const v = Reflect.get(t, k, t); return typeof v === 'function' ? v.bind(t) : v; },
  });
  const Co = 8, C = 40, KK = 9, J = KK * C, splits = 5;
  const part = randomF32(splits * Co * J, 41);
  const want = new Float64Array(Co * J);
  for (let co = 0; co < Co; co++) {
    for (let j = 0; j < J; j++) {
      let s = 0;
      for (let k = 0; k < splits; k++) s += part[(k * Co + co) * J + j];
      want[(co * C + (j % C)) * KK + Math.floor(j / C)] = s;
    }
  }
  for (const software of [true, false]) {
    overrideSoftwareDevice(ctx, software);
    try {
      const shape = splitKShape(software, Co * J, splits);
      assert.ok(Math.ceil((Co * J) / shape.OUTS) > 7, 'the grid must need folding');
      const out = ctx.alloc(4 * Co * J);
      splitKReduce(small, ctx.upload(part), out, Co, J, C, KK, splits, 'split-K reduce, folded grid');
      assertClose(`split-K reduce, folded grid, ${software ? 'software' : 'GPU'} routing`, await readF32(ctx, out, Co * J), want, 1e-6);
    } finally {
      overrideSoftwareDevice(ctx, null);
    }
  }
});

/** fn with the GPU routing taken on this device and COENGINE_GEMM_BIG unset; both restored after. */
async function withGpuRouting(fn: (ctx: NonNullable<Awaited<ReturnType<typeof runtime>>>) => void): Promise<void> {
  const ctx = await runtime();
  if (!ctx) return;
  overrideSoftwareDevice(ctx, false);
  const prev = setGemmBigTile(null);
  try {
    fn(ctx);
  } finally {
    setGemmBigTile(prev);
    overrideSoftwareDevice(ctx, null);
  }
}

test('GPU routing: the large tile by kind of product and width, the small one for few tiles or 64 columns', () => withGpuRouting((ctx) => {
  const T = GEMM_TILES;
  assert.is(chooseTile(ctx, 25088, 256, 1, 'conv'), T.shared64x128, 'conv forward, 256 channels');
  assert.is(chooseTile(ctx, 100352, 128, 1, 'conv'), T.shared128bk8p, 'conv forward, 128 channels');
  assert.is(chooseTile(ctx, 100352, 128, 1, 'conv-dx'), T.shared64x128);
  assert.is(chooseTile(ctx, 6272, 512, 1, 'conv'), T.shared64x128, 'layer 4: 392 tiles of its own, 196 of 128×128');
  assert.is(chooseTile(ctx, 6272, 512, 1, 'nn'), T.shared64p, 'matmuls count 128×128 tiles');
  assert.is(chooseTile(ctx, 3136, 256, 1, 'conv'), T.shared64p, 'too few tiles even of its own');
  assert.is(chooseTile(ctx, 256, 2304, 4, 'conv-dw'), T.shared128x64);
  assert.is(chooseTile(ctx, 64, 576, 4, 'conv-dw'), T.shared64p, '64 output channels: few tiles');
  assert.is(chooseTile(ctx, 25088, 1024, 1, 'nt'), T.shared128x64);
  assert.is(chooseTile(ctx, 401408, 256, 1, 'nn'), T.shared64x128);
  assert.is(chooseTile(ctx, 100352, 128, 1, 'nn'), T.shared128bk8p);
  assert.is(chooseTile(ctx, 4096, 4096, 1, 'tn'), T.shared128bk8p);
  assert.is(chooseTile(ctx, 1024, 256, 1, 'tn'), T.shared64x128, 'a 1×1 weight gradient, both sides ≥ 256: few tiles (split-K)');
  assert.is(chooseTile(ctx, 512, 128, 1, 'tn'), T.shared64p, 'a 1×1 weight gradient with a 128 side');
  assert.is(chooseTile(ctx, 401408, 64, 1, 'conv'), T.shared64p, 'a 128-wide tile would waste half on 64 columns');
  assert.is(chooseTile(ctx, 4096, 4096), T.shared128bk8p, 'no kind given');
}));

test('a generated register block adds in the same order as the array form: bit-identical products', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  const M = 45, N = 38, K = 29;
  const A = gpuRaw(ctx, randomF32(M * K, 41), [M, K]), B = gpuRaw(ctx, randomF32(N * K, 42), [N, K]);
  const run = async (tile: string) => readF32(ctx, matmul(ctx, A, B, false, true, { tile: GEMM_TILES[tile] }), M * N);
  assert.equal(Array.from(await run('shared32pg')), Array.from(await run('shared32p')));
});

test('COENGINE_GEMM_GEN / COENGINE_GEMM_WARP: the heuristic\'s choices with generated register blocks, warp-blocked layouts, or both', () => withGpuRouting((ctx) => {
  let prev = setTileVariants({ gen: true, warp: false });
  try {
    const t = chooseTile(ctx, 25088, 256, 1, 'conv');
    assert.equal({ ...t, gen: undefined }, { ...GEMM_TILES.shared64x128, gen: undefined }, 'the same sizes');
    assert.ok(t.gen, 'generated');
    assert.not.ok(t.warp);
    assert.is(chooseTile(ctx, 25088, 256, 1, 'conv'), t, 'one object per tile (its prelude is built once)');
    assert.is(tileName(t), 'shared64x128/gen');
    assert.ok(chooseTile(ctx, 100, 100).gen, 'small tiles too');
    setTileVariants({ warp: true });
    const both = chooseTile(ctx, 25088, 256, 1, 'conv');
    assert.ok(both.gen && both.warp, 'both');
    assert.is(tileName(both), 'shared64x128/gen+warp');
    setTileVariants({ gen: false });
    const warp = chooseTile(ctx, 4096, 4096);
    assert.equal({ ...warp, warp: undefined }, { ...GEMM_TILES.shared128bk8p, warp: undefined });
    assert.ok(warp.warp && !warp.gen);
    assert.is(tileName(warp), 'shared128bk8p/warp');
    validateTile(ctx, warp);
  } finally {
    setTileVariants(prev);
  }
  assert.not.ok(chooseTile(ctx, 25088, 256, 1, 'conv').gen, 'off again');
  assert.not.ok(chooseTile(ctx, 4096, 4096).warp, 'off again');
}));

test('warp twins of the heuristic\'s tiles compute what the tiles do', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  overrideSoftwareDevice(ctx, false); // the GPU's tiles, on lavapipe too
  const prev = setTileVariants({ warp: true });
  try {
    const M = 70, N = 72, K = 40; // 64×64 tiles (shared64p/warp): partial in both directions
    assert.is(tileName(chooseTile(ctx, M, N, 1, 'nn')), 'shared64p/warp');
    const A = gpuRaw(ctx, randomF32(M * K, 51), [M, K]), B = gpuRaw(ctx, randomF32(K * N, 52), [K, N]);
    const got = await readF32(ctx, matmul(ctx, A, B, false, false), M * N);
    setTileVariants({ warp: false });
    const want = await readF32(ctx, matmul(ctx, A, B, false, false), M * N);
    assert.equal(Array.from(got), Array.from(want));
  } finally {
    setTileVariants(prev);
    overrideSoftwareDevice(ctx, null);
  }
});

test('COENGINE_GEMM_BIG picks the heuristic\'s large tile (step A/B runs); a name that is not a shared tile is refused', () => withGpuRouting((ctx) => {
  assert.is(chooseTile(ctx, 4096, 4096), GEMM_TILES.shared128bk8p);
  setGemmBigTile('shared128x64');
  assert.is(chooseTile(ctx, 4096, 4096), GEMM_TILES.shared128x64);
  assert.is(chooseTile(ctx, 100, 100), GEMM_TILES.shared64p, 'small problems keep the small tile');
  setGemmBigTile('direct32');
  assert.throws(() => chooseTile(ctx, 4096, 4096), /COENGINE_GEMM_BIG: 'direct32' is not a shared-memory GEMM tile/);
}));

test('COENGINE_GEMM_TILE forces its tile wherever its grid fits the device, and leaves the rest to the heuristic', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  const rows = 8 * (ctx.limits.maxComputeWorkgroupsPerDimension + 1); // one 8-row tile too many in y
  const heuristic = chooseTile(ctx, rows, 64, 1, 'nn');
  setGemmTile('direct8x8');
  try {
    assert.is(chooseTile(ctx, 1000, 64, 1, 'nn'), GEMM_TILES.direct8x8);
    assert.is(chooseTile(ctx, rows, 64, 1, 'nn'), heuristic);
    assert.is(chooseTile(ctx, 64, rows, 1, 'nn') === GEMM_TILES.direct8x8, false);
  } finally {
    setGemmTile(null);
  }
});

test('split-K reduction shape: lanes only where the outputs alone cannot fill a GPU, never more than the slices', () => {
  assert.equal(splitKShape(true, 100, 60), { OUTS: 256, LANES: 1 }); // CPU implementations: no barriers
  assert.equal(splitKShape(false, 36_864, 60), { OUTS: 64, LANES: 4 }); // 64→64 3×3 weight gradient
  assert.equal(splitKShape(false, 4096, 256), { OUTS: 32, LANES: 8 });
  assert.equal(splitKShape(false, 4096, 3), { OUTS: 128, LANES: 2 });
  assert.equal(splitKShape(false, 4096, 5), { OUTS: 64, LANES: 4 });
  assert.equal(splitKShape(false, 4096, 2), { OUTS: 128, LANES: 2 });
  assert.equal(splitKShape(false, 262_144, 9), { OUTS: 256, LANES: 1 }); // ResNet-50 1×1 weight gradient
  assert.equal(splitKShape(false, 140_000, 9), { OUTS: 256, LANES: 1 });
  assert.equal(splitKShape(false, 65_536, 9), { OUTS: 64, LANES: 4 });
  assert.equal(splitKShape(false, 100_000, 9), { OUTS: 128, LANES: 2 });
});

test('an operand that is a view into a larger buffer (flat parameters), of a size that is not 16-byte aligned', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  const M = 3, K = 5, N = 2; // A is 60 bytes: bound as vec4 it is rounded up, and must keep its offset
  const A = randomF32(M * K, 31), B = randomF32(K * N, 32);
  const flat = new Float32Array(64 + M * K + 16).fill(1e6); // 256 bytes of something else first
  flat.set(A, 64);
  const base = ctx.upload(flat);
  const a = ctx.view(base, 256, 4 * M * K);
  const want = await cpuData(cpu().matmul(cpuRaw(A, [M, K]), cpuRaw(B, [K, N]), false, false), [M * N]);
  const got = await readF32(ctx, matmul(ctx, { storage: a, shape: [M, K], dtype: 'f32' }, gpuRaw(ctx, B, [K, N]), false, false), M * N);
  assertClose('matmul of a view', got, want, 1e-6);
  ctx.release(base);
});

test('fused epilogue: bias, residual, ReLU; scalar (N % 4 != 0) and 16-byte (N % 4 == 0) stores', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  for (const N of [13, 16]) {
    const M = 19, K = 11;
    const A = randomF32(M * K, 3), B = randomF32(K * N, 4), bias = randomF32(N, 5), res = randomF32(M * N, 6);
    const plain = await cpuData(cpu().matmul(cpuRaw(A, [M, K]), cpuRaw(B, [K, N]), false, false), [M * N]);
    const want = plain.map((v, i) => Math.max(0, v + bias[i % N] + res[i]));
    const y = matmul(ctx, gpuRaw(ctx, A, [M, K]), gpuRaw(ctx, B, [K, N]), false, false, {
      epilogue: { bias: ctx.upload(bias), residual: ctx.upload(res), relu: true },
    });
    const got = await readF32(ctx, y, M * N);
    assertClose(`matmul + bias + residual + relu, N = ${N}`, got, want, 1e-5);
    assert.ok(got.some((v) => v === 0) && got.some((v) => v > 0), 'ReLU should clip some outputs and keep others');
  }
});

test('split-K with an epilogue: bias, residual and ReLU applied once, to the sum (MLP heads, probes)', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  // Forced splits, ragged chunks, both B layouts (a linear layer's weight is [out, in]: Bᵀ).
  for (const [M, N, K, splitK, tB] of [[6, 9, 1031, 3, true], [5, 12, 700, 4, false], [7, 13, 2051, 8, true]] as const) {
    const A = randomF32(M * K, 11), B = randomF32(K * N, 12), bias = randomF32(N, 13), res = randomF32(M * N, 14);
    const plain = await cpuData(cpu().matmul(cpuRaw(A, [M, K]), cpuRaw(B, tB ? [N, K] : [K, N]), false, tB), [M * N]);
    for (const ep of [{ bias: true }, { bias: true, residual: true, relu: true }, { relu: true }]) {
      const want = plain.map((v, i) => {
        const s = v + (ep.bias ? bias[i % N] : 0) + ('residual' in ep ? res[i] : 0);
        return 'relu' in ep ? Math.max(0, s) : s;
      });
      const y = matmul(ctx, gpuRaw(ctx, A, [M, K]), gpuRaw(ctx, B, tB ? [N, K] : [K, N]), false, tB, {
        splitK, epilogue: { bias: ep.bias ? ctx.upload(bias) : null, residual: 'residual' in ep ? ctx.upload(res) : null, relu: 'relu' in ep },
      });
      assertClose(`split-K ${splitK} ${M}×${N}×${K}${tB ? ' Bᵀ' : ''} ${JSON.stringify(ep)}`, await readF32(ctx, y, M * N), want, 2e-6 * Math.sqrt(K + 1));
    }
  }
  // K = 0: no split (no slices to split), just the epilogue
  {
    const bias = randomF32(5, 18);
    const y = matmul(ctx, gpuRaw(ctx, new Float32Array(0), [3, 0]), gpuRaw(ctx, new Float32Array(0), [0, 5]), false, false,
      { splitK: 4, epilogue: { bias: ctx.upload(bias), relu: true } });
    assertClose('split-K 4 with K = 0: relu(bias)', await readF32(ctx, y, 15), Array.from({ length: 15 }, (_, i) => Math.max(0, bias[i % 5])), 0);
  }
  // Chosen, not forced: a head's linear layer (few rows, long K) with its bias is split on a GPU.
  const M = 16, N = 24, K = 4096;
  const A = randomF32(M * K, 15), W = randomF32(N * K, 16), bias = randomF32(N, 17);
  const plain = await cpuData(cpu().matmul(cpuRaw(A, [M, K]), cpuRaw(W, [N, K]), false, true), [M * N]);
  const labels: string[] = [];
  let y: ReturnType<typeof matmul> | null = null;
  const routed = isSoftwareDevice(ctx);
  if (routed) overrideSoftwareDevice(ctx, false);
  try {
    if (ctx.features.has('timestamp-query')) {
      const { rows } = await ctx.profileDispatches(() => { y = matmul(ctx, gpuRaw(ctx, A, [M, K]), gpuRaw(ctx, W, [N, K]), false, true, { epilogue: { bias: ctx.upload(bias) } }); }, (l) => l);
      labels.push(...rows.map((r) => r.name));
    } else {
      y = matmul(ctx, gpuRaw(ctx, A, [M, K]), gpuRaw(ctx, W, [N, K]), false, true, { epilogue: { bias: ctx.upload(bias) } });
    }
  } finally {
    if (routed) overrideSoftwareDevice(ctx, null);
  }
  assertClose('head-shaped linear with bias, split by choice', await readF32(ctx, y!, M * N), plain.map((v, i) => v + bias[i % N]), 2e-6 * Math.sqrt(K + 1));
  if (labels.length) {
    assert.ok(labels.some((l) => / ×\d+ splits @\S+$/.test(l)), `expected a split-K product, got ${labels.join(', ')}`);
    assert.ok(labels.includes('matmul split-K reduce +epilogue'), `expected the epilogue in the reduce, got ${labels.join(', ')}`);
  }
});

test('a GEMM dispatch declares its work to the profile: 2·batch·M·N·K, and a split-K one 2·M·N·K', async () => {
  const ctx = await runtime();
  if (!ctx || !ctx.features.has('timestamp-query')) return;
  const A = randomF32(2 * 6 * 5, 1), B = randomF32(2 * 5 * 7, 2), C = randomF32(8 * 300, 3), D = randomF32(300 * 4, 4);
  const { rows } = await ctx.profileDispatches(() => {
    matmul(ctx, gpuRaw(ctx, A, [2, 6, 5]), gpuRaw(ctx, B, [2, 5, 7]), false, false);
    matmul(ctx, gpuRaw(ctx, C, [8, 300]), gpuRaw(ctx, D, [300, 4]), false, false, { splitK: 3 });
  }, (l) => l);
  const flops = (re: RegExp) => rows.filter((r) => re.test(r.name)).reduce((a, r) => a + r.flops, 0);
  assert.equal(flops(/^matmul 2×6×7×5/), 2 * 2 * 6 * 7 * 5);
  assert.equal(flops(/^matmul 1×8×4×300 ×3 splits @/), 2 * 8 * 4 * 300);
  assert.equal(flops(/split-K reduce/), 0);
});

test('K = 0 gives zeros', async () => {
  const ctx = await runtime();
  if (!ctx) return;
  const y = matmul(ctx, gpuRaw(ctx, new Float32Array(0), [3, 0]), gpuRaw(ctx, new Float32Array(0), [0, 5]), false, false);
  assert.equal(Array.from(await readF32(ctx, y, 15)), new Array(15).fill(0));
});

test.run();
