// GEMM core shared by matmul and the three implicit-GEMM convolutions (tfjs conv2d_mm style).
// It computes, for every grid layer z, C[z](m, n) = Σ_{k in range(z)} A[z](m, k) · B[z](k, n)
// and never touches memory itself: the including kernel supplies small read/write hooks.
//
// The TypeScript wrapper (src/backend/webgpu/ops/gemm.ts) prepends the tile constants
//   const BM, BN, BK, TM, TN: u32;  const USE_SHARED: bool;
//   const SMEM_PAD: u32;  (vec4s of padding per k-row of the workgroup tiles: spreads the
//                          scattered stores of k-contiguous operands over more banks)
//   const STAGES: u32;    (1 or 2 workgroup tiles per operand: with 2, slice k+1 is stored
//                          into one while slice k is multiplied from the other, one barrier
//                          per slice instead of two)
//   const WARP_TILE: bool; (shared path only: each 32 consecutive threads take an 8×4 block of
//                          thread positions in the tile instead of two full thread rows; see main)
//   const GEN: bool;      (shared path only: the register block is the wrapper's generated
//                          accumulators acc_<r>_<i>_<c> with straight-line multiply-adds,
//                          fn mm_multiplyGen(tx, ty, stage) and fn mm_writeGen(z, tileM, tileN,
//                          tx, ty, M, N), instead of the acc array and its loop nests, which the
//                          driver must unroll and promote to registers; empty stubs otherwise)
// then this file, then compiles the hook kernel (e.g. matmul.wgsl) after it.
//
// Hooks the including kernel must define (the core guarantees the arguments are in range):
//   fn mm_M() -> u32                 rows of C
//   fn mm_N() -> u32                 columns of C
//   fn mm_k_range(z: u32) -> vec2<u32>   [begin, end) of the reduction for layer z (split-K)
//   fn mm_rowA(z, m) -> vec4<i32>    per-row context of A (e.g. a conv's pixel coordinates),
//                                    computed once per thread and row, not per k step
//   fn mm_readA(z, r, m, k) -> f32   A(m, k); r = mm_rowA(z, m)
//   fn mm_readA4(z, r, m, k) -> vec4<f32>   A(m, k..k+3) if A_K_CONTIG else A(m..m+3, k);
//                                    r = mm_rowA(z, m)
//   fn mm_colB(z, n) -> vec4<i32>    per-column context of B
//   fn mm_readB(z, c, k, n) -> f32   B(k, n); c = mm_colB(z, n)
//   fn mm_readB4(z, c, k, n) -> vec4<f32>   B(k, n..n+3) if B_N_CONTIG else B(k..k+3, n);
//                                    c = mm_colB(z, n)
//   fn mm_readA4u(z, r, m, k, ke) -> vec4<f32>   A(m, k..k+3) with zeros from ke on, when those
//                                    are not one aligned vec4 (A_K_CONTIG only): the hook may step
//                                    through the run instead of indexing each element afresh
//   fn mm_readB4u(z, c, k, n, N) -> vec4<f32>    B(k, n..n+3) likewise (B_N_CONTIG only)
//                                    (mm_elementsA / mm_elementsB below: the element-by-element
//                                    versions, for hooks with nothing to step)
//   fn mm_write(z, m, n, v: f32)
//   fn mm_write4(z, m, n, v: vec4<f32>)  C(m, n..n+3); only used when C_VEC
//   fn mm_writeStat(t, n, mean: f32, m2: f32)   COL_STATS only (a no-op elsewhere): the mean and
//                                    the sum of squared deviations of column n over row tile t
// The scalar readers serve ragged edges and unaligned operands (e.g. a 3-channel stem's im2col):
// given the context, they do not recompute a row's pixel coordinates for every element.
//
// Two code paths, chosen by USE_SHARED:
//  * shared: BM×BN tile per workgroup, BK-deep slices of A and B staged in workgroup memory
//    (k-major, so the inner loop reads vec4 along m and n), the next slice prefetched into
//    registers while the current one is multiplied; each thread owns a TM×TN register block
//    laid out as TM/4 × TN/4 groups of 4 spread across the tile (conflict-free vec4 reads).
//  * direct: same register blocking, operands read straight from memory with no workgroup
//    memory or barriers (what lavapipe runs fastest; barriers cost a lot there).
// Sizes that are not multiples of the tile are handled by zero-filling out-of-range reads and
// skipping out-of-range writes.
//
// COL_STATS (one grid layer, plain epilogue): after storing its tile, the workgroup also reduces
// each of its columns over the tile's rows in range to (mean, M2 = Σ (v − mean)²), merged across
// threads by Chan's rule (each thread's rows, then a tree over the thread rows), and hands them to
// mm_writeStat: the per-chunk partials of a batch norm's statistics, made while the values are
// still in registers instead of by a pass that reads the whole output again
// (batchnorm_finalize.wgsl, CHAN, merges the row tiles).

/**
 * n / d for the hooks' index arithmetic, given inv = f32(1 / d): a float multiply and an exact
 * fix-up instead of u32 division, which GPUs emulate in ~20 instructions (the implicit-GEMM
 * hooks divide on every operand load). Exact for n < 2^24: f32(n) is then exact, and with a
 * correctly rounded multiply (Vulkan requires one) the estimate is off by at most one (by none
 * for d ≤ 2, where inv is exact). The fix-up allows two either way, as margin for an
 * implementation whose multiply is an ulp off.
 */
fn mm_udiv(n: u32, d: u32, inv: f32) -> u32 {
  var q = u32(f32(n) * inv);
  if (q * d > n) { q -= 1u; }
  if (q * d > n) { q -= 1u; }
  if ((q + 1u) * d <= n) { q += 1u; }
  if ((q + 1u) * d <= n) { q += 1u; }
  return q;
}

// Input batch norm, for hook kernels with a NORM option (conv(relu(bn(x))) without bn's output
// in memory): v ↦ (v − mean)·scale + beta per channel c, then ReLU when `relu`, the terms packed
// [G][3][C] by batchnorm_pack.wgsl; `base` = 3·C·g for the value's statistics group g. The same
// operations in the same order as batchnorm_normalize.wgsl.
fn mm_norm1(pack: ptr<storage, array<vec4<f32>>, read>, base: u32, C: u32, c: u32, v: f32, relu: bool) -> f32 {
  let i = base + c;
  let j = i + C;
  let k = j + C;
  let r = (v - (*pack)[i / 4u][i % 4u]) * (*pack)[j / 4u][j % 4u] + (*pack)[k / 4u][k % 4u];
  if (relu) { return max(r, 0.0); }
  return r;
}
/** Channels c..c+3 (C and c multiples of 4: each term is one 16-byte load). */
fn mm_norm4(pack: ptr<storage, array<vec4<f32>>, read>, base: u32, C: u32, c: u32, v: vec4<f32>, relu: bool) -> vec4<f32> {
  let i = (base + c) / 4u;
  let q = C / 4u;
  let r = (v - (*pack)[i]) * (*pack)[i + q] + (*pack)[i + 2u * q];
  if (relu) { return max(r, vec4<f32>(0.0)); }
  return r;
}

// Which axis of A / B is contiguous in memory (the direction of a 4-run), and whether the
// 4-runs may be read with the vec4 hooks (alignment checked by the wrapper).
override A_K_CONTIG: bool = true;
override B_N_CONTIG: bool = true;
override A_VEC: bool = false;
override B_VEC: bool = false;
override C_VEC: bool = false;
override COL_STATS: bool = false;

const WG_X: u32 = BN / TN;
const WG_Y: u32 = BM / TM;
const NT: u32 = WG_X * WG_Y;
const RM: u32 = TM / 4u;        // row groups of 4 per thread
const CN: u32 = TN / 4u;        // column groups of 4 per thread
const ROW_STRIDE: u32 = BM / RM;  // = 4·WG_Y: distance between a thread's row groups
const COL_STRIDE: u32 = BN / CN;  // = 4·WG_X
const WARPS_ACROSS: u32 = max(1u, WG_X / 8u);  // WARP_TILE: 8-wide warp blocks per thread row (max: tiles that are not warp-blocked compile too)

// Workgroup tiles: [stage][k][vec4 along m or n], rows padded to A_ROW / B_ROW vec4s. Size 1
// on the direct path, which never touches them.
// Nested rather than flat on purpose: under Dawn's robustness transform every dynamic index is
// clamped. A flat index (kk·A_ROW + r·WG_Y + ty) gets a fresh clamp on every read of the inner
// loop, which also keeps the compiler from folding kk into an immediate address offset. Nested,
// the clamp of kk folds once the loop is unrolled, and the column's (r·WG_Y + ty) is the same
// for every kk, so it is computed once.
const A_ROW: u32 = BM / 4u + SMEM_PAD;
const B_ROW: u32 = BN / 4u + SMEM_PAD;
const SH_STAGES: u32 = select(1u, STAGES, USE_SHARED);
const SH_K: u32 = select(1u, BK, USE_SHARED);
const SH_A_ROW: u32 = select(1u, A_ROW, USE_SHARED);
const SH_B_ROW: u32 = select(1u, B_ROW, USE_SHARED);
var<workgroup> As: array<array<array<vec4<f32>, SH_A_ROW>, SH_K>, SH_STAGES>;
var<workgroup> Bs: array<array<array<vec4<f32>, SH_B_ROW>, SH_K>, SH_STAGES>;

// Register staging of the next slice (shared path).
const A_UNITS: u32 = (BM * BK / 4u + NT - 1u) / NT;
const B_UNITS: u32 = (BK * BN / 4u + NT - 1u) / NT;
var<private> stageA: array<vec4<f32>, A_UNITS>;
var<private> stageB: array<vec4<f32>, B_UNITS>;

var<private> acc: array<vec4<f32>, select(TM * CN, 1u, GEN)>;  // GEN: the generated variables instead

// COL_STATS: one slot per thread of the upper half of the thread rows still merging (its CN
// groups of 4 columns each; the count is per thread).
const ST_SLOTS: u32 = max(1u, WG_Y / 2u) * WG_X;
var<workgroup> stMean: array<vec4<f32>, select(1u, ST_SLOTS * CN, COL_STATS)>;
var<workgroup> stM2: array<vec4<f32>, select(1u, ST_SLOTS * CN, COL_STATS)>;
var<workgroup> stCount: array<f32, select(1u, ST_SLOTS, COL_STATS)>;  // rows merged so far

// Contexts of the rows of A / columns of B a thread loads (fixed for the whole reduction).
// Shared path: one per staging unit; direct path: one per register row / column.
const CTX_A: u32 = select(TM, A_UNITS, USE_SHARED);
const CTX_B: u32 = select(TN, B_UNITS, USE_SHARED);
var<private> ctxA: array<vec4<i32>, CTX_A>;
var<private> ctxB: array<vec4<i32>, CTX_B>;

/** A(m, k..k+3) element by element, zeros from ke on: what mm_readA4u is where nothing is gained by stepping. */
fn mm_elementsA(z: u32, r: vec4<i32>, m: u32, k: u32, ke: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) { if (k + j < ke) { v[j] = mm_readA(z, r, m, k + j); } }
  return v;
}
/** B(k, n..n+3) element by element (each column with its own context), zeros from N on. */
fn mm_elementsB(z: u32, k: u32, n: u32, N: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) { if (n + j < N) { v[j] = mm_readB(z, mm_colB(z, n + j), k, n + j); } }
  return v;
}

/** Four values of A along its contiguous axis starting at (m, k); zeros outside [0,M)×[.., ke). */
fn mm_loadA4(z: u32, r: vec4<i32>, m: u32, k: u32, ke: u32, M: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (A_K_CONTIG) {
    if (m >= M) { return v; }
    if (A_VEC && k + 3u < ke) { return mm_readA4(z, r, m, k); }
    return mm_readA4u(z, r, m, k, ke);
  } else {
    if (k >= ke) { return v; }
    if (A_VEC && m + 3u < M) { return mm_readA4(z, r, m, k); }
    for (var j = 0u; j < 4u; j++) { if (m + j < M) { v[j] = mm_readA(z, mm_rowA(z, m + j), m + j, k); } }
  }
  return v;
}

/** Four values of B along its contiguous axis starting at (k, n); zeros outside the range. */
fn mm_loadB4(z: u32, c: vec4<i32>, k: u32, n: u32, ke: u32, N: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (B_N_CONTIG) {
    if (k >= ke) { return v; }
    if (B_VEC && n + 3u < N) { return mm_readB4(z, c, k, n); }
    return mm_readB4u(z, c, k, n, N);
  } else {
    if (n >= N) { return v; }
    if (B_VEC && k + 3u < ke) { return mm_readB4(z, c, k, n); }
    for (var j = 0u; j < 4u; j++) { if (k + j < ke) { v[j] = mm_readB(z, c, k + j, n); } }
  }
  return v;
}

// ---- shared path ----

// The row of A and column of B that staging unit u of a slice covers (the same for every slice).
fn mm_unitRowA(u: u32) -> u32 { return select((u % (BM / 4u)) * 4u, u / (BK / 4u), A_K_CONTIG); }
fn mm_unitKA(u: u32) -> u32 { return select(u / (BM / 4u), (u % (BK / 4u)) * 4u, A_K_CONTIG); }
fn mm_unitColB(u: u32) -> u32 { return select(u / (BK / 4u), (u % (BN / 4u)) * 4u, B_N_CONTIG); }
fn mm_unitKB(u: u32) -> u32 { return select((u % (BK / 4u)) * 4u, u / (BN / 4u), B_N_CONTIG); }

fn mm_prepareShared(z: u32, tileM: u32, tileN: u32, M: u32, N: u32, tid: u32) {
  for (var i = 0u; i < A_UNITS; i++) {
    let m = tileM + mm_unitRowA(tid + i * NT);
    if (m < M) { ctxA[i] = mm_rowA(z, m); }
  }
  for (var i = 0u; i < B_UNITS; i++) {
    let n = tileN + mm_unitColB(tid + i * NT);
    if (n < N) { ctxB[i] = mm_colB(z, n); }
  }
}

fn mm_fetchSlice(z: u32, tileM: u32, tileN: u32, k0: u32, ke: u32, M: u32, N: u32, tid: u32) {
  for (var i = 0u; i < A_UNITS; i++) {
    let u = tid + i * NT;
    if (u < BM * BK / 4u) {
      stageA[i] = mm_loadA4(z, ctxA[i], tileM + mm_unitRowA(u), k0 + mm_unitKA(u), ke, M);
    }
  }
  for (var i = 0u; i < B_UNITS; i++) {
    let u = tid + i * NT;
    if (u < BK * BN / 4u) {
      stageB[i] = mm_loadB4(z, ctxB[i], k0 + mm_unitKB(u), tileN + mm_unitColB(u), ke, N);
    }
  }
}

fn mm_storeSlice(tid: u32, stage: u32) {
  for (var i = 0u; i < A_UNITS; i++) {
    let u = tid + i * NT;
    if (u < BM * BK / 4u) {
      if (A_K_CONTIG) {
        // A 4-run along k lands in 4 different k rows of the k-major tile.
        let m = u / (BK / 4u);
        let k = (u % (BK / 4u)) * 4u;
        for (var j = 0u; j < 4u; j++) { As[stage][k + j][m / 4u][m % 4u] = stageA[i][j]; }
      } else {
        As[stage][u / (BM / 4u)][u % (BM / 4u)] = stageA[i];  // a 4-run along m: one vec4
      }
    }
  }
  for (var i = 0u; i < B_UNITS; i++) {
    let u = tid + i * NT;
    if (u < BK * BN / 4u) {
      if (B_N_CONTIG) {
        Bs[stage][u / (BN / 4u)][u % (BN / 4u)] = stageB[i];
      } else {
        let n = u / (BK / 4u);
        let k = (u % (BK / 4u)) * 4u;
        for (var j = 0u; j < 4u; j++) { Bs[stage][k + j][n / 4u][n % 4u] = stageB[i][j]; }
      }
    }
  }
}

fn mm_multiply(tx: u32, ty: u32, stage: u32) {
  if (GEN) { mm_multiplyGen(tx, ty, stage); } else { mm_multiplySlice(tx, ty, stage); }
}

fn mm_multiplySlice(tx: u32, ty: u32, stage: u32) {
  for (var kk = 0u; kk < BK; kk++) {
    var a: array<vec4<f32>, RM>;
    var b: array<vec4<f32>, CN>;
    for (var r = 0u; r < RM; r++) { a[r] = As[stage][kk][r * WG_Y + ty]; }
    for (var c = 0u; c < CN; c++) { b[c] = Bs[stage][kk][c * WG_X + tx]; }
    for (var r = 0u; r < RM; r++) {
      for (var i = 0u; i < 4u; i++) {
        let av = vec4<f32>(a[r][i]);
        for (var c = 0u; c < CN; c++) {
          let idx = (r * 4u + i) * CN + c;
          acc[idx] = fma(av, b[c], acc[idx]);
        }
      }
    }
  }
}

fn mm_runShared(z: u32, tileM: u32, tileN: u32, tx: u32, ty: u32, tid: u32, M: u32, N: u32) {
  let kr = mm_k_range(z);
  let kb = kr.x;
  let ke = kr.y;
  if (kb >= ke) { return; }
  mm_prepareShared(z, tileM, tileN, M, N, tid);
  mm_fetchSlice(z, tileM, tileN, kb, ke, M, N, tid);
  mm_storeSlice(tid, 0u);
  workgroupBarrier();
  if (STAGES == 2u) {
    // Two slices per trip, so that each one's stage is a constant once the steps are inlined
    // (a stage index carried from trip to trip is a dynamic workgroup-memory offset).
    for (var k0 = kb; k0 < ke; k0 += 2u * BK) {
      mm_doubleBufferedStep(z, tileM, tileN, tx, ty, M, N, tid, k0, ke, 0u);
      if (k0 + BK >= ke) { break; }
      mm_doubleBufferedStep(z, tileM, tileN, tx, ty, M, N, tid, k0 + BK, ke, 1u);
    }
    return;
  }
  for (var k0 = kb; k0 < ke; k0 += BK) {
    let next = k0 + BK;
    let more = next < ke;
    if (more) { mm_fetchSlice(z, tileM, tileN, next, ke, M, N, tid); }
    mm_multiply(tx, ty, 0u);
    workgroupBarrier();
    if (more) { mm_storeSlice(tid, 0u); }
    workgroupBarrier();
  }
}

/**
 * One slice with two workgroup tiles per operand: multiply slice k0 from stage `cur` while slice
 * k0 + BK goes into the other stage, which was last read in the previous slice, before that
 * slice's barrier; so one barrier per slice.
 */
fn mm_doubleBufferedStep(z: u32, tileM: u32, tileN: u32, tx: u32, ty: u32, M: u32, N: u32, tid: u32,
                         k0: u32, ke: u32, cur: u32) {
  let next = k0 + BK;
  let more = next < ke;
  if (more) { mm_fetchSlice(z, tileM, tileN, next, ke, M, N, tid); }
  mm_multiply(tx, ty, cur);
  if (more) { mm_storeSlice(tid, 1u - cur); }
  workgroupBarrier();
}

// ---- direct path ----

fn mm_runDirect(z: u32, tileM: u32, tileN: u32, tx: u32, ty: u32, M: u32, N: u32) {
  let kr = mm_k_range(z);
  // Contexts: ctxA[r·4 + i] for row m(r) + i, ctxB[c·4 + j] for column n(c) + j (a 4-run along
  // m or n uses the context of its first row / column).
  for (var r = 0u; r < RM; r++) {
    let m = tileM + r * ROW_STRIDE + ty * 4u;
    for (var i = 0u; i < 4u; i++) { if (m + i < M) { ctxA[r * 4u + i] = mm_rowA(z, m + i); } }
  }
  for (var c = 0u; c < CN; c++) {
    let n = tileN + c * COL_STRIDE + tx * 4u;
    for (var j = 0u; j < 4u; j++) { if (n + j < N) { ctxB[c * 4u + j] = mm_colB(z, n + j); } }
  }
  for (var k0 = kr.x; k0 < kr.y; k0 += 4u) {
    // aK[kk·RM + r] = A rows of group r at k0+kk; bK[kk·CN + c] = B columns of group c at k0+kk.
    var aK: array<vec4<f32>, 4u * RM>;
    var bK: array<vec4<f32>, 4u * CN>;
    for (var r = 0u; r < RM; r++) {
      let m = tileM + r * ROW_STRIDE + ty * 4u;
      if (A_K_CONTIG) {
        for (var i = 0u; i < 4u; i++) {
          let v = mm_loadA4(z, ctxA[r * 4u + i], m + i, k0, kr.y, M);
          for (var kk = 0u; kk < 4u; kk++) { aK[kk * RM + r][i] = v[kk]; }
        }
      } else {
        for (var kk = 0u; kk < 4u; kk++) { aK[kk * RM + r] = mm_loadA4(z, ctxA[r * 4u], m, k0 + kk, kr.y, M); }
      }
    }
    for (var c = 0u; c < CN; c++) {
      let n = tileN + c * COL_STRIDE + tx * 4u;
      if (B_N_CONTIG) {
        for (var kk = 0u; kk < 4u; kk++) { bK[kk * CN + c] = mm_loadB4(z, ctxB[c * 4u], k0 + kk, n, kr.y, N); }
      } else {
        for (var j = 0u; j < 4u; j++) {
          let v = mm_loadB4(z, ctxB[c * 4u + j], k0, n + j, kr.y, N);
          for (var kk = 0u; kk < 4u; kk++) { bK[kk * CN + c][j] = v[kk]; }
        }
      }
    }
    for (var kk = 0u; kk < 4u; kk++) {
      for (var r = 0u; r < RM; r++) {
        for (var i = 0u; i < 4u; i++) {
          let av = vec4<f32>(aK[kk * RM + r][i]);
          for (var c = 0u; c < CN; c++) {
            let idx = (r * 4u + i) * CN + c;
            acc[idx] = fma(av, bK[kk * CN + c], acc[idx]);
          }
        }
      }
    }
  }
}

// ---- column statistics (COL_STATS) ----

/** How many of thread row ty's TM rows of the tile at tileM lie inside [0, M) (COL_STATS). */
fn mm_rowsIn(ty: u32, tileM: u32, M: u32) -> f32 {
  var n = 0u;
  for (var r = 0u; r < RM; r++) {
    let m = tileM + r * ROW_STRIDE + ty * 4u;
    if (m < M) { n += min(4u, M - m); }
  }
  return f32(n);
}

/**
 * (mean, M2) of every column of this workgroup's tile over its rows in range: each thread's own
 * rows first (mean, then squared deviations from it: no cancellation), then a tree over the
 * thread rows in workgroup memory, merging counts n_a, n_b by δ = mean_b − mean_a,
 * mean += δ·n_b/n, M2 = M2_a + M2_b + δ²·n_a·n_b/n. Every thread calls it (it holds barriers);
 * thread row 0 writes.
 * All CN column groups go through each tree level together, so that no loop holding a barrier
 * indexes acc (or mean / m2): the driver unrolls barrier-free loops of constant trip count and
 * keeps such arrays in registers, but a private array indexed by a loop it does not unroll goes
 * to local memory, and acc with it for the whole kernel (H100: the GEMM ran 10× slower).
 */
fn mm_columnStats(tileM: u32, tileN: u32, tx: u32, ty: u32, M: u32, N: u32, t: u32) {
  let mine = mm_rowsIn(ty, tileM, M);
  var mean: array<vec4<f32>, CN>;
  var m2: array<vec4<f32>, CN>;
  for (var c = 0u; c < CN; c++) {
    var s = vec4<f32>(0.0);
    for (var r = 0u; r < RM; r++) {
      for (var i = 0u; i < 4u; i++) {
        if (tileM + r * ROW_STRIDE + ty * 4u + i < M) { s += acc[(r * 4u + i) * CN + c]; }
      }
    }
    mean[c] = s / max(mine, 1.0);
    var q = vec4<f32>(0.0);
    for (var r = 0u; r < RM; r++) {
      for (var i = 0u; i < 4u; i++) {
        if (tileM + r * ROW_STRIDE + ty * 4u + i < M) {
          let d = acc[(r * 4u + i) * CN + c] - mean[c];
          q += d * d;
        }
      }
    }
    m2[c] = q;
  }
  var n = mine;
  for (var h = WG_Y / 2u; h > 0u; h >>= 1u) {
    if (ty >= h && ty < 2u * h) {
      let slot = (ty - h) * WG_X + tx;
      for (var c = 0u; c < CN; c++) {
        stMean[slot * CN + c] = mean[c];
        stM2[slot * CN + c] = m2[c];
      }
      stCount[slot] = n;
    }
    workgroupBarrier();
    if (ty < h) {
      let slot = ty * WG_X + tx;
      let nb = stCount[slot];
      if (nb > 0.0) {
        let total = n + nb;
        for (var c = 0u; c < CN; c++) {
          let d = stMean[slot * CN + c] - mean[c];
          mean[c] += d * (nb / total);
          m2[c] += stM2[slot * CN + c] + d * d * (n * nb / total);
        }
        n = total;
      }
    }
    workgroupBarrier();
  }
  if (ty == 0u) {
    for (var c = 0u; c < CN; c++) {
      let col = tileN + c * COL_STRIDE + tx * 4u;
      for (var j = 0u; j < 4u; j++) { if (col + j < N) { mm_writeStat(t, col + j, mean[c][j], m2[c][j]); } }
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let z = wid.z;
  let M = mm_M();
  let N = mm_N();
  let tileM = wid.y * BM;
  let tileN = wid.x * BN;
  // tid: the thread's place in the workgroup's order (consecutive tids form a 32-lane warp on
  // NVIDIA): the staging loads go by it, so that a warp's loads are contiguous.
  let tid = lid.y * WG_X + lid.x;
  var tx = lid.x;
  var ty = lid.y;
  if (WARP_TILE) {
    // Each warp takes an 8×4 block of thread positions instead of two 16-wide thread rows: per
    // k step its B reads are then 8 distinct vec4s (one 128-byte wavefront, not two) and its A
    // reads 4 (broadcast), 4 wavefronts per step for an 8×8 block instead of 6.
    let lane = tid % 32u;
    let warp = tid / 32u;
    tx = (warp % WARPS_ACROSS) * 8u + lane % 8u;
    ty = (warp / WARPS_ACROSS) * 4u + lane / 8u;
  }
  if (USE_SHARED) {
    mm_runShared(z, tileM, tileN, tx, ty, tid, M, N);
  } else {
    mm_runDirect(z, tileM, tileN, tx, ty, M, N);
  }
  if (GEN) {
    mm_writeGen(z, tileM, tileN, tx, ty, M, N);
    return;  // (the wrapper makes no column statistics with generated tiles)
  }
  for (var r = 0u; r < RM; r++) {
    for (var i = 0u; i < 4u; i++) {
      let m = tileM + r * ROW_STRIDE + ty * 4u + i;
      if (m < M) {
        for (var c = 0u; c < CN; c++) { mm_writeOut(z, m, tileN + c * COL_STRIDE + tx * 4u, N, acc[(r * 4u + i) * CN + c]); }
      }
    }
  }
  if (COL_STATS) { mm_columnStats(tileM, tileN, tx, ty, M, N, wid.y); }
}

/** C(m, n..n+3) = v where in range (m < M checked by the caller). */
fn mm_writeOut(z: u32, m: u32, n: u32, N: u32, v: vec4<f32>) {
  if (C_VEC && n + 3u < N) {
    mm_write4(z, m, n, v);
  } else {
    for (var j = 0u; j < 4u; j++) { if (n + j < N) { mm_write(z, m, n + j, v[j]); } }
  }
}
