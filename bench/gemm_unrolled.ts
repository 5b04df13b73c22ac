// Experiment for `bench kernels --sweep` (not used by the engine): kernels/matmul_unrolled.wgsl
// with its register block generated here as separate variables and straight-line multiply-adds.
//
// Why: on an H100 the GEMM core (an accumulator array indexed by loop nests the driver must
// unroll) ran 8×8 blocks at 31 TFLOP/s, 8×12 and 8×16 blocks at 18–20 and 16-row blocks at 2
// (bench/RESULTS.md, eleventh session): likely the driver spilling or failing to unroll, not the
// hardware (cuBLAS's f32 kernels use 8×16 blocks at 52). If these rows beat the core's at 8×16,
// the core's shared path should be generated the same way.
import { BackendError } from '../src/runtime/errors.js';
import { params } from '../src/backend/webgpu/params.js';
import type { GpuContext, GpuStorage } from '../src/backend/webgpu/context.js';

export interface UnrolledTile {
  BM: number; BN: number; BK: number;
  /** Register block per thread (rows × columns), multiples of 4. */
  TM: number; TN: number;
  /** One vec4 of padding per k-row of the workgroup tiles. */
  pad: boolean;
}

export const UNROLLED_TILES: Record<string, UnrolledTile> = {
  u128t8x8: { BM: 128, BN: 128, BK: 8, TM: 8, TN: 8, pad: true },     // the core's default tile, for comparison
  u128t8x16: { BM: 128, BN: 128, BK: 8, TM: 8, TN: 16, pad: true },   // 128 threads, as cuBLAS's 128×128 f32 tiles
  u128t16x8: { BM: 128, BN: 128, BK: 8, TM: 16, TN: 8, pad: true },
  u128x256t8x16: { BM: 128, BN: 256, BK: 8, TM: 8, TN: 16, pad: true }, // 256 threads
  u128t8x16k16: { BM: 128, BN: 128, BK: 16, TM: 8, TN: 16, pad: true },
  u128x192t8x12: { BM: 128, BN: 192, BK: 16, TM: 8, TN: 12, pad: true },
  u32t4x4: { BM: 32, BN: 32, BK: 8, TM: 4, TN: 4, pad: true },        // small: the tests' lavapipe check
};

/** Thread counts and divisibility the fixed kernel assumes; an error names what is wrong. */
export function checkUnrolledTile(ctx: GpuContext, t: UnrolledTile): void {
  const wgX = t.BN / t.TN, wgY = t.BM / t.TM, nt = wgX * wgY;
  const bad = (why: string) => new BackendError(`unrolled GEMM tile ${JSON.stringify(t)}: ${why}`);
  if (t.TM % 4 || t.TN % 4 || t.BK % 4 || !Number.isInteger(wgX) || !Number.isInteger(wgY)) throw bad('TM, TN, BK must be multiples of 4 dividing BM, BN');
  if ((t.BM * t.BK / 4) % nt || (t.BK * t.BN / 4) % nt) throw bad(`the slices do not split evenly over ${nt} threads`);
  if (nt > ctx.limits.maxComputeInvocationsPerWorkgroup) throw bad(`${nt} threads exceed the device's ${ctx.limits.maxComputeInvocationsPerWorkgroup}`);
}

/** The generated part: tile constants, the accumulators, one slice's multiply-adds, the write. */
export function unrolledPrelude(t: UnrolledTile): string {
  const RM = t.TM / 4, CN = t.TN / 4, wgX = t.BN / t.TN, wgY = t.BM / t.TM;
  const acc = (r: number, i: number, c: number) => `acc_${r}_${i}_${c}`;
  const out: string[] = [
    `const BM: u32 = ${t.BM}u;`, `const BN: u32 = ${t.BN}u;`, `const BK: u32 = ${t.BK}u;`,
    `const TM: u32 = ${t.TM}u;`, `const TN: u32 = ${t.TN}u;`, `const WG_X: u32 = ${wgX}u;`, `const WG_Y: u32 = ${wgY}u;`,
    `const A_ROW: u32 = ${t.BM / 4 + (t.pad ? 1 : 0)}u;`, `const B_ROW: u32 = ${t.BN / 4 + (t.pad ? 1 : 0)}u;`,
  ];
  for (let r = 0; r < RM; r++) for (let i = 0; i < 4; i++) for (let c = 0; c < CN; c++) out.push(`var<private> ${acc(r, i, c)}: vec4<f32>;`);
  out.push('fn mmu_multiply(tx: u32, ty: u32) {');
  for (let kk = 0; kk < t.BK; kk++) {
    for (let r = 0; r < RM; r++) out.push(`  let a${kk}_${r} = As[${kk}][${r * wgY}u + ty];`);
    for (let c = 0; c < CN; c++) out.push(`  let b${kk}_${c} = Bs[${kk}][${c * wgX}u + tx];`);
    for (let r = 0; r < RM; r++) {
      for (let i = 0; i < 4; i++) {
        for (let c = 0; c < CN; c++) out.push(`  ${acc(r, i, c)} = fma(vec4<f32>(a${kk}_${r}[${i}]), b${kk}_${c}, ${acc(r, i, c)});`);
      }
    }
  }
  out.push('}');
  // Thread (tx, ty) owns rows tileM + r·4·WG_Y + 4·ty + i and columns tileN + c·4·WG_X + 4·tx ..+3.
  out.push('fn mmu_write(tileM: u32, tileN: u32, tx: u32, ty: u32, N: u32) {');
  for (let r = 0; r < RM; r++) {
    for (let i = 0; i < 4; i++) {
      out.push(`  { let m = tileM + ${r * 4 * wgY + i}u + 4u * ty;`);
      for (let c = 0; c < CN; c++) out.push(`    C[(m * N + tileN + ${c * 4 * wgX}u + 4u * tx) / 4u] = ${acc(r, i, c)};`);
      out.push('  }');
    }
  }
  out.push('}');
  return out.join('\n') + '\n';
}

const preludes = new Map<string, string>();

/** C = A·B for row-major A [M, K], B [K, N]; M, N, K must be multiples of the tile's BM, BN, BK. */
export function unrolledGemm(ctx: GpuContext, a: GpuStorage, b: GpuStorage, M: number, N: number, K: number, t: UnrolledTile): GpuStorage {
  checkUnrolledTile(ctx, t);
  if (M % t.BM || N % t.BN || K % t.BK || K === 0) throw new BackendError(`unrolled GEMM ${M}×${N}×${K}: sizes must be non-zero multiples of the tile ${t.BM}×${t.BN}×${t.BK}`);
  const key = JSON.stringify(t);
  let prelude = preludes.get(key);
  if (prelude === undefined) preludes.set(key, (prelude = unrolledPrelude(t)));
  const c = ctx.alloc(4 * M * N);
  ctx.dispatch(ctx.pipeline({ file: 'matmul_unrolled.wgsl', prelude }), [a, b, c], params().u32(M, N, K, 0).bytes(),
    [N / t.BN, M / t.BM, 1], `matmul unrolled ${M}×${N}×${K}`, 2 * M * N * K);
  return c;
}
