// Matrix product hooks for matmul_core.wgsl: C[z] = op(A[z])·op(B[z]) for 2-D (z = 0) and
// batched 3-D operands, op = transpose when TRANS_A / TRANS_B (A then stored [K, M], B [N, K]),
// with an optional fused epilogue: + bias[n], + residual (C's shape), then ReLU.
// Absent bias / residual are bound to a dummy buffer and never read.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override RELU: bool = false;
// Split-K (2-D products with a long reduction and a small output): grid layer z sums the k-chunk
// [z·chunk, (z+1)·chunk) into its own slice z of c (strideA = strideB = 0); a second kernel adds
// the slices in a fixed order.
override SPLIT_K: bool = false;
// Input batch norm (a 1×1 convolution of relu(bn(x)), x never normalised in memory; 2-D, not
// transposed): NORM_A normalises A [M, K] per column k (the forward: A = x), NORM_B normalises
// B [K, N] per column n (the weight gradient: B = x), with the terms packed by
// batchnorm_pack.wgsl; NORM_GROUPED: statistics [G, C], the group of A's row m (of B's row k)
// being m / normRows.
override NORM_A: bool = false;
override NORM_B: bool = false;
override NORM_RELU: bool = false;
override NORM_GROUPED: bool = false;

struct Params {
  M: u32, N: u32, K: u32, strideA: u32,
  strideB: u32, strideC: u32, chunk: u32, normRows: u32,
  invNormRows: f32, _p0: u32, _p1: u32, _p2: u32,  // mm_udiv by normRows
}

// Operands are bound as vec4 arrays (binding rounded up to 16 bytes) so aligned 4-runs are one
// 16-byte load; single elements are picked out of their vec4.
@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> residual: array<vec4<f32>>;  // one 16-byte load per 4 outputs
@group(0) @binding(4) var<storage, read_write> c: array<vec4<f32>>;  // vec4 stores when C_VEC
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;  // COL_STATS: [row tiles][2][N] (mean, M2)
@group(0) @binding(6) var<storage, read> norm: array<vec4<f32>>;  // NORM_A / NORM_B: [G][3][C] terms
@group(0) @binding(7) var<uniform> params: Params;

fn mm_M() -> u32 { return params.M; }
fn mm_N() -> u32 { return params.N; }
fn mm_k_range(z: u32) -> vec2<u32> {
  if (SPLIT_K) { return vec2<u32>(z * params.chunk, min(params.K, (z + 1u) * params.chunk)); }
  return vec2<u32>(0u, params.K);
}

fn aIndex(z: u32, m: u32, k: u32) -> u32 {
  if (TRANS_A) { return z * params.strideA + k * params.M + m; }
  return z * params.strideA + m * params.K + k;
}
fn bIndex(z: u32, k: u32, n: u32) -> u32 {
  if (TRANS_B) { return z * params.strideB + n * params.K + k; }
  return z * params.strideB + k * params.N + n;
}

/** The offset of a NORM operand row's statistics group in the pack: 3·C·(row / normRows). */
fn normBase(row: u32, C: u32) -> u32 {
  if (!NORM_GROUPED) { return 0u; }
  return 3u * C * mm_udiv(row, params.normRows, params.invNormRows);
}

// Plain matrices need no per-row or per-column context; NORM_A keeps its row's group offset.
fn mm_rowA(z: u32, m: u32) -> vec4<i32> {
  if (NORM_A) { return vec4<i32>(i32(normBase(m, params.K)), 0, 0, 0); }
  return vec4<i32>(0);
}
fn mm_colB(z: u32, n: u32) -> vec4<i32> { return vec4<i32>(0); }

fn mm_readA(z: u32, r: vec4<i32>, m: u32, k: u32) -> f32 {
  let i = aIndex(z, m, k);
  let v = a[i / 4u][i % 4u];
  if (NORM_A) { return mm_norm1(&norm, u32(r.x), params.K, k, v, NORM_RELU); }
  return v;
}
// The contiguous axis of A is k (A stored [M, K]) or m (stored [K, M]): both are a[i..i+3],
// and the wrapper enables the vec4 path only when i is a multiple of 4.
fn mm_readA4(z: u32, r: vec4<i32>, m: u32, k: u32) -> vec4<f32> {
  let v = a[aIndex(z, m, k) / 4u];
  if (NORM_A) { return mm_norm4(&norm, u32(r.x), params.K, k, v, NORM_RELU); }
  return v;
}
fn mm_readB(z: u32, c: vec4<i32>, k: u32, n: u32) -> f32 {
  let i = bIndex(z, k, n);
  let v = b[i / 4u][i % 4u];
  if (NORM_B) { return mm_norm1(&norm, normBase(k, params.N), params.N, n, v, NORM_RELU); }
  return v;
}
fn mm_readB4(z: u32, c: vec4<i32>, k: u32, n: u32) -> vec4<f32> {
  let v = b[bIndex(z, k, n) / 4u];
  if (NORM_B) { return mm_norm4(&norm, normBase(k, params.N), params.N, n, v, NORM_RELU); }
  return v;
}

// Unaligned 4-runs along the contiguous axes: element by element (matmul_core.wgsl).
fn mm_readA4u(z: u32, r: vec4<i32>, m: u32, k: u32, ke: u32) -> vec4<f32> { return mm_elementsA(z, r, m, k, ke); }
fn mm_readB4u(z: u32, c: vec4<i32>, k: u32, n: u32, N: u32) -> vec4<f32> { return mm_elementsB(z, k, n, N); }

fn epilogue(i: u32, n: u32, v: f32) -> f32 {
  var r = v;
  if (HAS_BIAS) { r += bias[n]; }
  if (HAS_RESIDUAL) { r += residual[i / 4u][i % 4u]; }
  if (RELU) { r = max(r, 0.0); }
  return r;
}

fn mm_write(z: u32, m: u32, n: u32, v: f32) {
  let i = z * params.strideC + m * params.N + n;
  c[i / 4u][i % 4u] = epilogue(i, n, v);
}
// C_VEC (N % 4 == 0) makes i a multiple of 4: one 16-byte store.
fn mm_write4(z: u32, m: u32, n: u32, v: vec4<f32>) {
  let i = z * params.strideC + m * params.N + n;
  var r = v;
  if (HAS_BIAS) { r += vec4<f32>(bias[n], bias[n + 1u], bias[n + 2u], bias[n + 3u]); }
  if (HAS_RESIDUAL) { r += residual[i / 4u]; }
  if (RELU) { r = max(r, vec4<f32>(0.0)); }
  c[i / 4u] = r;
}

// COL_STATS: row tile t's (mean, M2) of column n, in batchnorm_partial.wgsl's part layout.
fn mm_writeStat(t: u32, n: u32, mean: f32, m2: f32) {
  stats[2u * t * params.N + n] = mean;
  stats[(2u * t + 1u) * params.N + n] = m2;
}
