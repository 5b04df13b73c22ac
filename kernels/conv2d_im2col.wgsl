// Explicit im2col for convolutions whose implicit GEMM spends its time on index arithmetic
// (few channels, software devices): col[p, (tap·C + c)] = x[n, ho·sh − ph + kh, wo·sw − pw + kw, c]
// (0 outside the image), p = (n·Ho + ho)·Wo + wo, tap = kh·KW + kw.
// Two entry points: `main` (one thread per output pixel, for CPU implementations) and
// `by_channel4` (one thread per pixel, tap and 4 channels, for GPUs).

// The conv kernels' shared uniform header (conv.ts convParams), then total and KH.
struct Params {
  N: u32, H: u32, W: u32, C: u32, Ho: u32, Wo: u32, Co: u32, KW: u32,
  sh: u32, sw: u32, ph: i32, pw: i32, total: u32, KH: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> col: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

// One thread per output pixel: the divisions happen once per pixel, not per element (integer
// division is costly on CPU implementations, where this path is used most).
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let p = (wid.y * nwg.x + wid.x) * 64u + lid;
  if (p >= params.total) { return; }
  let C = params.C;
  let K = params.KH * params.KW * C;
  let wo = p % params.Wo;
  let t = p / params.Wo;
  let ho = t % params.Ho;
  let n = t / params.Ho;
  var o = p * K;
  for (var kh = 0u; kh < params.KH; kh++) {
    let h = i32(ho * params.sh + kh) - params.ph;
    for (var kw = 0u; kw < params.KW; kw++) {
      let w = i32(wo * params.sw + kw) - params.pw;
      if (h >= 0 && h < i32(params.H) && w >= 0 && w < i32(params.W)) {
        let src = ((n * params.H + u32(h)) * params.W + u32(w)) * C;
        for (var c = 0u; c < C; c++) { col[o + c] = x[src + c]; }
      } else {
        for (var c = 0u; c < C; c++) { col[o + c] = 0.0; }
      }
      o += C;
    }
  }
}

// GPU form (C % 4 == 0): one thread per (pixel, tap, 4 channels), so a warp writes 512
// contiguous bytes of col and reads contiguous 16-byte runs of x.
@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> col4: array<vec4<f32>>;

@compute @workgroup_size(64)
fn by_channel4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * 64u + lid;   // ((p · KH·KW) + tap) · C4 + c4
  let C4 = params.C / 4u;
  let KK = params.KH * params.KW;
  if (t >= params.total * KK * C4) { return; }
  let c4 = t % C4;
  let r = t / C4;
  let tap = r % KK;
  let p = r / KK;
  let wo = p % params.Wo;
  let q = p / params.Wo;
  let ho = q % params.Ho;
  let n = q / params.Ho;
  let h = i32(ho * params.sh + tap / params.KW) - params.ph;
  let w = i32(wo * params.sw + tap % params.KW) - params.pw;
  var v = vec4<f32>(0.0);
  if (h >= 0 && h < i32(params.H) && w >= 0 && w < i32(params.W)) {
    v = x4[((n * params.H + u32(h)) * params.W + u32(w)) * C4 + c4];
  }
  col4[t] = v;
}
