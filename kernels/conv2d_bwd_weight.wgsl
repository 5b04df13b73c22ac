// Convolution backward-weight as an implicit GEMM on matmul_core.wgsl, reducing over every
// output pixel of the batch:
//   dW(co, j) = Σ_p dy[p, co] · X(p, j),   p = (n, oh, ow),  j = (kh, kw, ci) with ci fastest.
// The reduction (N·Ho·Wo, up to ~10⁶) is split over grid layers z (split-K): each layer sums a
// chunk of pixels into its own slice of `out`, and splitk_reduce.wgsl adds the
// slices (no float atomics). With one layer (SPLIT = false) it writes dW directly in OIHW.

// NORM: X is batch-normalised (then ReLU when NORM_RELU) as it is read, as conv2d_fwd.wgsl's
// NORM reads it in the forward; NORM_GROUPED: image n in statistics group n / normImages.

override SPLIT: bool = false;
override NORM: bool = false;
override NORM_RELU: bool = false;
override NORM_GROUPED: bool = false;

struct Params {
  N: u32, H: u32, W: u32, C: u32,
  Ho: u32, Wo: u32, Co: u32, KW: u32,
  sh: u32, sw: u32, ph: i32, pw: i32,
  P: u32, J: u32, chunk: u32, KK: u32,
  invWo: f32, invHo: f32, fastDiv: u32, normImages: u32,  // mm_udiv for the pixels when P < 2^24
  invNormImages: f32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;  // written per element
@group(0) @binding(3) var<storage, read> norm: array<vec4<f32>>;  // NORM: [G][3][C] terms
@group(0) @binding(4) var<uniform> params: Params;

fn mm_M() -> u32 { return params.Co; }
fn mm_N() -> u32 { return params.J; }
fn mm_k_range(z: u32) -> vec2<u32> {
  return vec2<u32>(z * params.chunk, min(params.P, (z + 1u) * params.chunk));
}

// A(co, p) = dy[p, co]: stored [P, Co], its 4-runs are along co.
fn mm_rowA(z: u32, m: u32) -> vec4<i32> { return vec4<i32>(0); }
fn mm_readA(z: u32, r: vec4<i32>, m: u32, k: u32) -> f32 { let i = k * params.Co + m; return dy[i / 4u][i % 4u]; }
fn mm_readA4(z: u32, r: vec4<i32>, m: u32, k: u32) -> vec4<f32> { return dy[(k * params.Co + m) / 4u]; }

/** Column context of j = (kh, kw, ci): (kh − ph, kw − pw, ci), computed once per column. */
fn mm_colB(z: u32, n: u32) -> vec4<i32> {
  let ci = n % params.C;
  let tap = n / params.C;
  let kw = tap % params.KW;
  let kh = tap / params.KW;
  return vec4<i32>(i32(kh) - params.ph, i32(kw) - params.pw, i32(ci), 0);
}

/** Output pixel p as (image·H, oh·sh, ow·sw, NORM: the offset of the image's group in the pack): two divisions. */
fn pixelOf(p: u32) -> vec4<u32> {
  var t: u32;
  var img: u32;
  if (params.fastDiv != 0u) {
    t = mm_udiv(p, params.Wo, params.invWo);
    img = mm_udiv(t, params.Ho, params.invHo);
  } else {
    t = p / params.Wo;
    img = t / params.Ho;
  }
  let ow = p - t * params.Wo;
  let oh = t - img * params.Ho;
  var base = 0u;
  if (NORM && NORM_GROUPED) { base = 3u * params.C * mm_udiv(img, params.normImages, params.invNormImages); }
  return vec4<u32>(img * params.H, oh * params.sh, ow * params.sw, base);
}

/** Flat input index of X at pixel q = pixelOf(p) and column context c, or -1 in the padding. */
fn xAt(q: vec4<u32>, c: vec4<i32>) -> i32 {
  let ih = i32(q.y) + c.x;
  let iw = i32(q.z) + c.y;
  if (ih < 0 || iw < 0 || ih >= i32(params.H) || iw >= i32(params.W)) { return -1; }
  return i32(((q.x + u32(ih)) * params.W + u32(iw)) * params.C + u32(c.z));
}


/**
 * X(p, n..n+3) when Cin % 4 != 0 (a 3-channel stem): the run crosses taps, so the pixel is split
 * once and the column context stepped (ci fastest), not recomputed for every element.
 */
fn mm_readB4u(z: u32, c0: vec4<i32>, k: u32, n: u32, N: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  let q = pixelOf(k);
  var c = c0;
  for (var j = 0u; j < 4u; j++) {
    if (n + j < N) {
      let i = xAt(q, c);
      if (i >= 0) {
        v[j] = x[u32(i) / 4u][u32(i) % 4u];
        if (NORM) { v[j] = mm_norm1(&norm, q.w, params.C, u32(c.z), v[j], NORM_RELU); }
      }
    }
    c.z += 1;
    if (c.z == i32(params.C)) { c.z = 0; c.y += 1; if (c.y == i32(params.KW) - params.pw) { c.y = -params.pw; c.x += 1; } }
  }
  return v;
}
// A = dy, read along m (never a k-run).
fn mm_readA4u(z: u32, r: vec4<i32>, m: u32, k: u32, ke: u32) -> vec4<f32> { return mm_elementsA(z, r, m, k, ke); }
fn mm_readB(z: u32, c: vec4<i32>, k: u32, n: u32) -> f32 {
  let q = pixelOf(k);
  let i = xAt(q, c);
  if (i < 0) { return 0.0; }
  let v = x[u32(i) / 4u][u32(i) % 4u];
  if (NORM) { return mm_norm1(&norm, q.w, params.C, u32(c.z), v, NORM_RELU); }
  return v;
}
/** Channels ci..ci+3 of one tap (Cin % 4 == 0) at output pixel p. */
fn mm_readB4(z: u32, c: vec4<i32>, k: u32, n: u32) -> vec4<f32> {
  let q = pixelOf(k);
  let i = xAt(q, c);
  if (i < 0) { return vec4<f32>(0.0); }
  let v = x[u32(i) / 4u];
  if (NORM) { return mm_norm4(&norm, q.w, params.C, u32(c.z), v, NORM_RELU); }
  return v;
}

fn mm_write(z: u32, m: u32, n: u32, v: f32) {
  var i: u32;
  if (SPLIT) {
    i = (z * params.Co + m) * params.J + n;
  } else {
    // (co, j = tap·C + ci) → OIHW [co, ci, tap]
    i = (m * params.C + n % params.C) * params.KK + n / params.C;
  }
  out[i / 4u][i % 4u] = v;
}
fn mm_write4(z: u32, m: u32, n: u32, v: vec4<f32>) {
  for (var j = 0u; j < 4u; j++) { mm_write(z, m, n + j, v[j]); }
}

// No column statistics here (the core calls this only with COL_STATS).
fn mm_writeStat(t: u32, n: u32, mean: f32, m2: f32) {}
