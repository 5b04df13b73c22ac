// The adjoint of conv2d_im2col.wgsl: dx[n, h, w, c] = Σ over the taps (kh, kw) whose output
// position (ho, wo) = ((h + ph − kh)/sh, (w + pw − kw)/sw) is whole and inside the output, of
// dcol[(n·Ho + ho)·Wo + wo, (kh·KW + kw)·C + c]. Gathers, so no atomics.
// Two entry points: `main` (one thread per pixel, for CPU implementations where integer
// division is dear) and `by_channel4` (one thread per pixel and 4 channels, for GPUs).

// The conv kernels' shared uniform header (conv.ts convParams), then total and KH.
struct Params {
  N: u32, H: u32, W: u32, C: u32, Ho: u32, Wo: u32, Co: u32, KW: u32,
  sh: u32, sw: u32, ph: i32, pw: i32, total: u32, KH: u32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<storage, read> dcol: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

/**
 * The taps of input pixel (h, w) along one axis: the first kernel index k0 ≡ (h + ph) mod s
 * whose output position is whole, and that position o0 = ⌊(h + ph) / s⌋. The next such tap is
 * k0 + s at o0 − 1, and so on: only these taps reach the pixel, so the loops below visit
 * ⌈K/s⌉ of the K taps with one division per axis, not every tap with four divisions.
 */
fn firstTap(hp: i32, s: u32) -> vec2<i32> {
  let q = u32(hp) / s;
  return vec2<i32>(hp - i32(q * s), i32(q));
}

// One thread per input pixel (all its channels): index arithmetic once per pixel and tap.
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let q = (wid.y * nwg.x + wid.x) * 64u + lid;   // pixel (n·H + h)·W + w
  if (q >= params.total) { return; }
  let C = params.C;
  let w = i32(q % params.W);
  let t = q / params.W;
  let h = i32(t % params.H);
  let n = t / params.H;
  let K = params.KH * params.KW * C;
  let out = q * C;
  for (var c = 0u; c < C; c++) { dx[out + c] = 0.0; }
  let th = firstTap(h + params.ph, params.sh);
  let tw = firstTap(w + params.pw, params.sw);
  var oh = th.y;
  for (var kh = u32(th.x); kh < params.KH; kh += params.sh) {
    if (oh < 0) { break; }
    if (oh < i32(params.Ho)) {
      var ow = tw.y;
      for (var kw = u32(tw.x); kw < params.KW; kw += params.sw) {
        if (ow < 0) { break; }
        if (ow < i32(params.Wo)) {
          let src = ((n * params.Ho + u32(oh)) * params.Wo + u32(ow)) * K + (kh * params.KW + kw) * C;
          for (var c = 0u; c < C; c++) { dx[out + c] += dcol[src + c]; }
        }
        ow -= 1;
      }
    }
    oh -= 1;
  }
}

// GPU form (C % 4 == 0): one thread per (pixel, 4 channels), so the 32 threads of a warp read
// 512 contiguous bytes of a dcol row and write 512 contiguous bytes of dx, summing the taps in
// registers and storing once (the per-pixel form above reads 32 rows K·4 bytes apart and adds
// into dx in memory).
@group(0) @binding(0) var<storage, read> dcol4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dx4: array<vec4<f32>>;

@compute @workgroup_size(64)
fn by_channel4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * 64u + lid;
  let C4 = params.C / 4u;
  if (t >= params.total * C4) { return; }
  let c4 = t % C4;
  let q = t / C4;                  // pixel (n·H + h)·W + w
  let w = i32(q % params.W);
  let r = q / params.W;
  let h = i32(r % params.H);
  let n = r / params.H;
  let K4 = params.KH * params.KW * C4;
  var acc = vec4<f32>(0.0);
  let th = firstTap(h + params.ph, params.sh);
  let tw = firstTap(w + params.pw, params.sw);
  var oh = th.y;
  for (var kh = u32(th.x); kh < params.KH; kh += params.sh) {
    if (oh < 0) { break; }
    if (oh < i32(params.Ho)) {
      var ow = tw.y;
      for (var kw = u32(tw.x); kw < params.KW; kw += params.sw) {
        if (ow < 0) { break; }
        if (ow < i32(params.Wo)) {
          acc += dcol4[((n * params.Ho + u32(oh)) * params.Wo + u32(ow)) * K4 + (kh * params.KW + kw) * C4 + c4];
        }
        ow -= 1;
      }
    }
    oh -= 1;
  }
  dx4[t] = acc;
}
