// Convolution backward-data (the input gradient) as an implicit GEMM on matmul_core.wgsl:
//   dx[m, ci] = Σ_k dY(m, k) · Wr[k, ci],   m = (n, ih, iw),  k = (kh, kw, co) with co fastest,
// where dY(m, k) = dy[n, oh, ow, co] for the output pixel whose tap (kh, kw) lands on (ih, iw)
// (zero when (ih + ph − kh) is not a multiple of the stride or falls outside the output).
// Weights re-laid HWOI = [kh·kw·Cout, Cin] (OIHW as is for 1×1), so B's 4-runs are along ci.
// ACCUMULATE: dx += dxOther (x's shape), x's gradient from its other consumers (a residual
// block's shortcut), in the store instead of a separate pass.

override ACCUMULATE: bool = false;

struct Params {
  N: u32, H: u32, W: u32, C: u32,
  Ho: u32, Wo: u32, Co: u32, KW: u32,
  sh: u32, sw: u32, ph: i32, pw: i32,
  M: u32, K: u32, invCo: f32, invKW: f32,  // 1/Co, 1/KW for mm_udiv
}

@group(0) @binding(0) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dx: array<vec4<f32>>;  // vec4 stores when C_VEC
@group(0) @binding(3) var<storage, read> dxOther: array<vec4<f32>>;   // ACCUMULATE, else a dummy
@group(0) @binding(4) var<uniform> params: Params;

fn mm_M() -> u32 { return params.M; }
fn mm_N() -> u32 { return params.C; }
fn mm_k_range(z: u32) -> vec2<u32> { return vec2<u32>(0u, params.K); }

/** Row context of input pixel m = (n, ih, iw): (n·Ho, ih + ph, iw + pw), computed once per row. */
fn mm_rowA(z: u32, m: u32) -> vec4<i32> {
  let iw = m % params.W;
  let t = m / params.W;
  let ih = t % params.H;
  let n = t / params.H;
  return vec4<i32>(i32(n * params.Ho), i32(ih) + params.ph, i32(iw) + params.pw, 0);
}
fn mm_colB(z: u32, n: u32) -> vec4<i32> { return vec4<i32>(0); }

/** Flat dy index of element (row context r, k), or -1 where no output pixel uses this tap. */
fn dyIndex(r: vec4<i32>, k: u32) -> i32 {
  let tap = mm_udiv(k, params.Co, params.invCo);  // k < K ≪ 2^24
  let co = k - tap * params.Co;
  let kh = mm_udiv(tap, params.KW, params.invKW);
  let kw = tap - kh * params.KW;
  let yh = r.y - i32(kh);
  let yw = r.z - i32(kw);
  if (yh < 0 || yw < 0) { return -1; }
  var oh = u32(yh);
  var ow = u32(yw);
  if (params.sh != 1u || params.sw != 1u) {
    oh = oh / params.sh;
    ow = ow / params.sw;
    if (oh * params.sh != u32(yh) || ow * params.sw != u32(yw)) { return -1; }
  }
  if (oh >= params.Ho || ow >= params.Wo) { return -1; }
  return i32(((u32(r.x) + oh) * params.Wo + ow) * params.Co + co);
}

fn mm_readA(z: u32, r: vec4<i32>, m: u32, k: u32) -> f32 {
  let i = dyIndex(r, k);
  if (i < 0) { return 0.0; }
  return dy[u32(i) / 4u][u32(i) % 4u];
}
/** Four output channels co..co+3 of one tap (Cout % 4 == 0). */
fn mm_readA4(z: u32, r: vec4<i32>, m: u32, k: u32) -> vec4<f32> {
  let i = dyIndex(r, k);
  if (i < 0) { return vec4<f32>(0.0); }
  return dy[u32(i) / 4u];
}
fn mm_readB(z: u32, c: vec4<i32>, k: u32, n: u32) -> f32 { let i = k * params.C + n; return w[i / 4u][i % 4u]; }
fn mm_readB4(z: u32, c: vec4<i32>, k: u32, n: u32) -> vec4<f32> { return w[(k * params.C + n) / 4u]; }

// Unaligned 4-runs along the contiguous axes: element by element (matmul_core.wgsl).
fn mm_readA4u(z: u32, r: vec4<i32>, m: u32, k: u32, ke: u32) -> vec4<f32> { return mm_elementsA(z, r, m, k, ke); }
fn mm_readB4u(z: u32, c: vec4<i32>, k: u32, n: u32, N: u32) -> vec4<f32> { return mm_elementsB(z, k, n, N); }

fn mm_write(z: u32, m: u32, n: u32, v: f32) {
  let i = m * params.C + n;
  var r = v;
  if (ACCUMULATE) { r += dxOther[i / 4u][i % 4u]; }
  dx[i / 4u][i % 4u] = r;
}
// C_VEC (Cin % 4 == 0) makes i a multiple of 4: one 16-byte store.
fn mm_write4(z: u32, m: u32, n: u32, v: vec4<f32>) {
  let i = (m * params.C + n) / 4u;
  var r = v;
  if (ACCUMULATE) { r += dxOther[i]; }
  dx[i] = r;
}

// No column statistics here (the core calls this only with COL_STATS).
fn mm_writeStat(t: u32, n: u32, mean: f32, m2: f32) {}
