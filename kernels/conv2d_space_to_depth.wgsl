// Space-to-depth of a stride-2 convolution's input (conv.ts, spaceToDepth): xs[n, qy, qx, q·C + c]
// = x[n, 2·qy + py − ph, 2·qx + px − pw, c] with phase q = 2·py + px, zero outside the image. A
// stride-2 k×k convolution of x is then a stride-1 ⌈k/2⌉×⌈k/2⌉ convolution of xs with no padding,
// over 4·C channels: a 7×7/2 stem on 3 channels becomes a 4×4 one on 12, whose im2col rows are
// runs of vec4s instead of 3-float pieces with a bounds check each (its weight gradient's B).
// One thread per output element, in xs order (consecutive threads: consecutive channels).

struct Params { N: u32, H: u32, W: u32, C: u32, Hs: u32, Ws: u32, ph: i32, pw: i32 }

@group(0) @binding(0) var<storage, read> src: array<f32>;       // main: x; weights_from: dws
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;  // main: xs; weights_from: dw
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = (wid.y * nwg.x + wid.x) * 256u + lid;
  let C4 = 4u * params.C;
  if (e >= params.N * params.Hs * params.Ws * C4) { return; }
  let cc = e % C4;
  let pix = e / C4;
  let qx = pix % params.Ws;
  let qy = (pix / params.Ws) % params.Hs;
  let n = pix / (params.Ws * params.Hs);
  let q = cc / params.C;
  let c = cc % params.C;
  let iy = i32(2u * qy + q / 2u) - params.ph;
  let ix = i32(2u * qx + q % 2u) - params.pw;
  var v = 0.0;
  if (iy >= 0 && iy < i32(params.H) && ix >= 0 && ix < i32(params.W)) {
    v = src[((n * params.H + u32(iy)) * params.W + u32(ix)) * params.C + c];
  }
  dst[e] = v;
}

// (weights_from has a uniform block of its own at the same binding; no entry point uses both.)
// The weight gradient back from the space-to-depth convolution: dw[co, c, ky, kx] (OIHW,
// kh×kw) = dws[co, q·C + c, ky / 2, kx / 2] (OIHW, ⌈kh/2⌉×⌈kw/2⌉, 4·C channels) with
// q = 2·(ky % 2) + kx % 2. The taps past kh or kw (odd kernels) are the padding and are dropped.
struct WeightParams { Co: u32, C: u32, KH: u32, KW: u32 }
@group(0) @binding(2) var<uniform> wparams: WeightParams;

@compute @workgroup_size(256)
fn weights_from(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
  let e = (wid.y * nwg.x + wid.x) * 256u + lid;  // e = ((co·C + c)·KH + ky)·KW + kx
  let p = wparams;
  if (e >= p.Co * p.C * p.KH * p.KW) { return; }
  let kx = e % p.KW;
  let ky = (e / p.KW) % p.KH;
  let c = (e / (p.KW * p.KH)) % p.C;
  let co = e / (p.KW * p.KH * p.C);
  let KH2 = (p.KH + 1u) / 2u;
  let KW2 = (p.KW + 1u) / 2u;
  let q = 2u * (ky % 2u) + kx % 2u;
  dst[e] = src[((co * 4u * p.C + q * p.C + c) * KH2 + ky / 2u) * KW2 + kx / 2u];
}
