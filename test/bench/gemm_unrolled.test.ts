// The unrolled-GEMM experiment of `bench kernels --sweep` (bench/gemm_unrolled.ts): its generated
// register blocks compute the same product as the CPU backend, and bad tiles or sizes are refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpu } from '../../src/backend/registry.js';
import { UNROLLED_TILES, checkUnrolledTile, unrolledGemm, unrolledPrelude } from '../../bench/gemm_unrolled.js';
import { assertClose, cpuData, cpuRaw, readF32, randomF32, runtime, skipNotice } from '../webgpu/kernel_parity.js';

async function check(name: string, M: number, N: number, K: number, seed: number): Promise<void> {
  const ctx = await runtime();
  if (!ctx) return;
  const A = randomF32(M * K, seed), B = randomF32(K * N, seed + 1);
  const want = await cpuData(cpu().matmul(cpuRaw(A, [M, K]), cpuRaw(B, [K, N]), false, false), [M * N]);
  const c = unrolledGemm(ctx, ctx.upload(A), ctx.upload(B), M, N, K, UNROLLED_TILES[name]);
  assertClose(`unrolled ${name} ${M}×${N}×${K}`, await readF32(ctx, c, M * N), want, 2e-6 * Math.sqrt(K));
}

test('generated register blocks: square, wide and tall blocks over several tiles and slices', async () => {
  if (!(await runtime())) return skipNotice('gemm_unrolled.test');
  await check('u32t4x4', 64, 96, 40, 1);     // 2×3 tiles, 5 slices
  await check('u128t8x16', 256, 128, 24, 3); // 8×16 blocks, 2 row tiles, 3 slices
  await check('u128t16x8', 128, 256, 16, 5); // 16×8 blocks
});

test('the generated slice has one multiply-add per block element and k step; bad tiles and sizes are refused', async () => {
  const t = UNROLLED_TILES.u128t8x16;
  assert.is((unrolledPrelude(t).match(/= fma\(/g) ?? []).length, t.BK * t.TM * t.TN / 4);
  const ctx = await runtime();
  if (!ctx) return;
  assert.throws(() => checkUnrolledTile(ctx, { BM: 128, BN: 192, BK: 8, TM: 8, TN: 12, pad: false }), /do not split evenly over 256 threads/);
  assert.throws(() => unrolledGemm(ctx, ctx.upload(new Float32Array(32 * 8)), ctx.upload(new Float32Array(8 * 30)), 32, 30, 8, UNROLLED_TILES.u32t4x4),
    /multiples of the tile 32×32×8/);
});

test.run();
