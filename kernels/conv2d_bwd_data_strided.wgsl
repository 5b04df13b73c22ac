// Strided convolution backward-data by phase decomposition, on matmul_core.wgsl.
//
// With stride s, input pixel ih receives gradient only from the taps kh with
// (ih + ph − kh) ≡ 0 (mod s): the plain implicit GEMM (conv2d_bwd_data.wgsl) multiplies zeros
// for the other (s−1)/s of them. Input pixels are split into sh·sw classes by
// ((ih + ph) mod sh, (iw + pw) mod sw) = (ry, rx); class z = ry·sw + rx sees only the taps
// kh = ry + sh·th, kw = rx + sw·tw, and is a dense GEMM of its own (grid layer z):
//   dx[pixel m of class z, ci] = Σ_k dY_z(m, k) · Wz[k, ci],   k = (th, tw, co), co fastest,
//   dY_z(m, k) = dy[n, qh − th, qw − tw, co]   with qh = (ih + ph − ry)/sh (exact), qw likewise
// (zero outside the output). The weights are re-laid phase-major HWOI (conv.ts), so class z's
// Wz is the contiguous block starting at tap `tapOffset` of that layout.
// Per-class constants come from the host (conv.ts stridedClasses):
//   cls[2z]     = (ih0, iw0, Hz, Wz): first input row/column of the class and its extents
//   cls[2z + 1] = (Th, Tw, tapOffset, 0): its taps per axis and where its weights start
// Every input pixel belongs to exactly one class, so dx is written exactly once; a class
// without taps (1×1 stride 2: three of four) writes zeros.

struct Params {
  N: u32, H: u32, W: u32, C: u32,
  Ho: u32, Wo: u32, Co: u32, KW: u32,
  sh: u32, sw: u32, ph: i32, pw: i32,
  M: u32, _pad0: u32, _pad1: u32, _pad2: u32,
  cls: array<vec4<u32>, 32>,
}

@group(0) @binding(0) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dx: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;

fn classGeom(z: u32) -> vec4<u32> { return params.cls[2u * z]; }
fn classTaps(z: u32) -> vec4<u32> { return params.cls[2u * z + 1u]; }

/** Rows: the largest class (the others skip the rows they do not have). */
fn mm_M() -> u32 { return params.M; }
fn mm_N() -> u32 { return params.C; }
fn mm_k_range(z: u32) -> vec2<u32> {
  let t = classTaps(z);
  return vec2<u32>(0u, t.x * t.y * params.Co);
}

/** Input pixel (n, ih, iw) of row m of class z as (n, ih, iw, valid). */
fn classPixel(z: u32, m: u32) -> vec4<u32> {
  let g = classGeom(z);
  if (m >= params.N * g.z * g.w) { return vec4<u32>(0u); }
  let b = m % g.w;
  let t = m / g.w;
  let a = t % g.z;
  let n = t / g.z;
  return vec4<u32>(n, g.x + params.sh * a, g.y + params.sw * b, 1u);
}

/** Row context: (n·Ho, qh, qw, valid); tap (th, tw) of the class reads dy at (qh − th, qw − tw). */
fn mm_rowA(z: u32, m: u32) -> vec4<i32> {
  let p = classPixel(z, m);
  if (p.w == 0u) { return vec4<i32>(0); }
  let ry = i32(z / params.sw);
  let rx = i32(z % params.sw);
  let qh = (i32(p.y) + params.ph - ry) / i32(params.sh);
  let qw = (i32(p.z) + params.pw - rx) / i32(params.sw);
  return vec4<i32>(i32(p.x * params.Ho), qh, qw, 1);
}

/** Flat dy index of (row context r, k) of class z, or -1 where the tap falls outside the output. */
fn dyIndex(z: u32, r: vec4<i32>, k: u32) -> i32 {
  if (r.w == 0) { return -1; }
  let tap = k / params.Co;
  let co = k - tap * params.Co;
  let tw_n = classTaps(z).y;
  let th = tap / tw_n;
  let tw = tap - th * tw_n;
  let oh = r.y - i32(th);
  let ow = r.z - i32(tw);
  if (oh < 0 || ow < 0 || oh >= i32(params.Ho) || ow >= i32(params.Wo)) { return -1; }
  return i32(((u32(r.x) + u32(oh)) * params.Wo + u32(ow)) * params.Co + co);
}

fn mm_readA(z: u32, r: vec4<i32>, m: u32, k: u32) -> f32 {
  let i = dyIndex(z, r, k);
  if (i < 0) { return 0.0; }
  return dy[u32(i) / 4u][u32(i) % 4u];
}
/** Four output channels co..co+3 of one tap (Cout % 4 == 0). */
fn mm_readA4(z: u32, r: vec4<i32>, m: u32, k: u32) -> vec4<f32> {
  let i = dyIndex(z, r, k);
  if (i < 0) { return vec4<f32>(0.0); }
  return dy[u32(i) / 4u];
}

fn mm_colB(z: u32, n: u32) -> vec4<i32> { return vec4<i32>(0); }
fn mm_readB(z: u32, c: vec4<i32>, k: u32, n: u32) -> f32 {
  let i = (classTaps(z).z * params.Co + k) * params.C + n;
  return w[i / 4u][i % 4u];
}
fn mm_readB4(z: u32, c: vec4<i32>, k: u32, n: u32) -> vec4<f32> {
  return w[((classTaps(z).z * params.Co + k) * params.C + n) / 4u];
}

// Unaligned 4-runs along the contiguous axes: element by element (matmul_core.wgsl).
fn mm_readA4u(z: u32, r: vec4<i32>, m: u32, k: u32, ke: u32) -> vec4<f32> { return mm_elementsA(z, r, m, k, ke); }
fn mm_readB4u(z: u32, c: vec4<i32>, k: u32, n: u32, N: u32) -> vec4<f32> { return mm_elementsB(z, k, n, N); }

/** Flat dx index of (row m of class z, channel n), or -1 for rows the class does not have. */
fn dxIndex(z: u32, m: u32, n: u32) -> i32 {
  let p = classPixel(z, m);
  if (p.w == 0u) { return -1; }
  return i32(((p.x * params.H + p.y) * params.W + p.z) * params.C + n);
}
fn mm_write(z: u32, m: u32, n: u32, v: f32) {
  let i = dxIndex(z, m, n);
  if (i >= 0) { dx[u32(i) / 4u][u32(i) % 4u] = v; }
}
// C_VEC (Cin % 4 == 0) makes i a multiple of 4: one 16-byte store.
fn mm_write4(z: u32, m: u32, n: u32, v: vec4<f32>) {
  let i = dxIndex(z, m, n);
  if (i >= 0) { dx[u32(i) / 4u] = v; }
}

// No column statistics here (the core calls this only with COL_STATS).
fn mm_writeStat(t: u32, n: u32, mean: f32, m2: f32) {}
