// Convolution forward as an implicit GEMM on matmul_core.wgsl (NHWC input, weights re-laid
// OHWI = [Cout, kh·kw·Cin] by conv2d_weight_layout.wgsl, or OIHW as is for 1×1):
//   y[m, co] = Σ_k X(m, k) · Wt[co, k],   m = (n, oh, ow),  k = (kh, kw, ci) with ci fastest,
// so a 4-run along k is 4 consecutive input channels of one pixel (vec4 when Cin % 4 == 0).
// Epilogue: + bias[co], + residual (y's shape), ReLU.
// NORM: the input is batch-normalised (then ReLU when NORM_RELU) as it is read, with the terms
// packed by batchnorm_pack.wgsl (conv(relu(bn(x))) with bn's output never stored); padding taps
// stay 0, as padding of the normalised map. NORM_GROUPED: statistics [G, C], image n in group
// n / normImages.

override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override RELU: bool = false;
override NORM: bool = false;
override NORM_RELU: bool = false;
override NORM_GROUPED: bool = false;

struct Params {
  N: u32, H: u32, W: u32, C: u32,
  Ho: u32, Wo: u32, Co: u32, KW: u32,
  sh: u32, sw: u32, ph: i32, pw: i32,
  M: u32, K: u32, invC: f32, invKW: f32,  // 1/C, 1/KW for mm_udiv
  normImages: u32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> residual: array<vec4<f32>>;  // one 16-byte load per 4 outputs
@group(0) @binding(4) var<storage, read_write> y: array<vec4<f32>>;  // vec4 stores when C_VEC
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;  // COL_STATS: [row tiles][2][N] (mean, M2)
@group(0) @binding(6) var<storage, read> norm: array<vec4<f32>>;  // NORM: [G][3][C] terms
@group(0) @binding(7) var<uniform> params: Params;

fn mm_M() -> u32 { return params.M; }
fn mm_N() -> u32 { return params.Co; }
fn mm_k_range(z: u32) -> vec2<u32> { return vec2<u32>(0u, params.K); }

/**
 * Row context of pixel m = (n, oh, ow): (n·H, oh·sh − ph, ow·sw − pw, NORM: the offset of image
 * n's statistics group in the pack), computed once per row.
 */
fn mm_rowA(z: u32, m: u32) -> vec4<i32> {
  let ow = m % params.Wo;
  let t = m / params.Wo;
  let oh = t % params.Ho;
  let n = t / params.Ho;
  var base = 0u;
  if (NORM && NORM_GROUPED) { base = 3u * params.C * (n / params.normImages); }
  return vec4<i32>(i32(n * params.H), i32(oh * params.sh) - params.ph, i32(ow * params.sw) - params.pw, i32(base));
}
fn mm_colB(z: u32, n: u32) -> vec4<i32> { return vec4<i32>(0); }

/**
 * Flat input index of im2col element (row context r, k), or -1 where the tap falls in the
 * padding, and the element's input channel.
 */
fn xIndex(r: vec4<i32>, k: u32) -> vec2<i32> {
  let tap = mm_udiv(k, params.C, params.invC);  // k < K ≪ 2^24
  let ci = k - tap * params.C;
  let kh = mm_udiv(tap, params.KW, params.invKW);
  let kw = tap - kh * params.KW;
  let ih = r.y + i32(kh);
  let iw = r.z + i32(kw);
  if (ih < 0 || iw < 0 || ih >= i32(params.H) || iw >= i32(params.W)) { return vec2<i32>(-1, i32(ci)); }
  return vec2<i32>(i32((u32(r.x + ih) * params.W + u32(iw)) * params.C + ci), i32(ci));
}

fn mm_readA(z: u32, r: vec4<i32>, m: u32, k: u32) -> f32 {
  let i = xIndex(r, k);
  if (i.x < 0) { return 0.0; }
  let v = x[u32(i.x) / 4u][u32(i.x) % 4u];
  if (NORM) { return mm_norm1(&norm, u32(r.w), params.C, u32(i.y), v, NORM_RELU); }
  return v;
}
/** Four channels ci..ci+3 of one tap (Cin % 4 == 0): two divisions per load instead of four. */
fn mm_readA4(z: u32, r: vec4<i32>, m: u32, k: u32) -> vec4<f32> {
  let i = xIndex(r, k);
  if (i.x < 0) { return vec4<f32>(0.0); }
  let v = x[u32(i.x) / 4u];
  if (NORM) { return mm_norm4(&norm, u32(r.w), params.C, u32(i.y), v, NORM_RELU); }
  return v;
}
/**
 * A(m, k..k+3) when Cin % 4 != 0 (a 3-channel stem): the run crosses taps, so k is split into
 * (kh, kw, ci) once and then stepped (ci fastest), not divided afresh for every element.
 */
fn mm_readA4u(z: u32, r: vec4<i32>, m: u32, k: u32, ke: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  let tap = mm_udiv(k, params.C, params.invC);
  var ci = k - tap * params.C;
  var kh = mm_udiv(tap, params.KW, params.invKW);
  var kw = tap - kh * params.KW;
  for (var j = 0u; j < 4u; j++) {
    if (k + j < ke) {
      let ih = r.y + i32(kh);
      let iw = r.z + i32(kw);
      if (ih >= 0 && iw >= 0 && ih < i32(params.H) && iw < i32(params.W)) {
        let i = (u32(r.x + ih) * params.W + u32(iw)) * params.C + ci;
        v[j] = x[i / 4u][i % 4u];
        if (NORM) { v[j] = mm_norm1(&norm, u32(r.w), params.C, ci, v[j], NORM_RELU); }
      }
    }
    ci += 1u;
    if (ci == params.C) { ci = 0u; kw += 1u; if (kw == params.KW) { kw = 0u; kh += 1u; } }
  }
  return v;
}
// B = the weights, read along k (never an n-run).
fn mm_readB4u(z: u32, c: vec4<i32>, k: u32, n: u32, N: u32) -> vec4<f32> { return mm_elementsB(z, k, n, N); }
fn mm_readB(z: u32, c: vec4<i32>, k: u32, n: u32) -> f32 { let i = n * params.K + k; return w[i / 4u][i % 4u]; }
fn mm_readB4(z: u32, c: vec4<i32>, k: u32, n: u32) -> vec4<f32> { return w[(n * params.K + k) / 4u]; }

fn epilogue(i: u32, co: u32, v: f32) -> f32 {
  var r = v;
  if (HAS_BIAS) { r += bias[co]; }
  if (HAS_RESIDUAL) { r += residual[i / 4u][i % 4u]; }
  if (RELU) { r = max(r, 0.0); }
  return r;
}
fn mm_write(z: u32, m: u32, n: u32, v: f32) {
  let i = m * params.Co + n;
  y[i / 4u][i % 4u] = epilogue(i, n, v);
}
// C_VEC (Cout % 4 == 0) makes i a multiple of 4: one 16-byte store.
fn mm_write4(z: u32, m: u32, n: u32, v: vec4<f32>) {
  let i = m * params.Co + n;
  var r = v;
  if (HAS_BIAS) { r += vec4<f32>(bias[n], bias[n + 1u], bias[n + 2u], bias[n + 3u]); }
  if (HAS_RESIDUAL) { r += residual[i / 4u]; }
  if (RELU) { r = max(r, vec4<f32>(0.0)); }
  y[i / 4u] = r;
}

// COL_STATS: row tile t's (mean, M2) of column n, in batchnorm_partial.wgsl's part layout.
fn mm_writeStat(t: u32, n: u32, mean: f32, m2: f32) {
  stats[2u * t * params.Co + n] = mean;
  stats[(2u * t + 1u) * params.Co + n] = m2;
}
