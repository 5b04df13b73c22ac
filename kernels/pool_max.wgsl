// Max pooling over NHWC maps. argmax holds, per output element, h·W + w of the winning input
// position within its (image, channel) plane (the CPU backend's convention); padding never
// wins, and the first maximum in row-major window order is kept.
//   forward:  one thread per output element
//   backward: one thread per input element gathers the outputs whose window covers it and
//             whose argmax is it (no atomics, deterministic)
//   forward4 / backward4 (C % 4 == 0): the same with 4 channels per thread, as vec4 loads and
//             stores: a quarter of the threads and of the index arithmetic (six integer
//             divisions per thread, dear on GPUs and dearer on CPU implementations)

struct Params {
  N: u32, H: u32, W: u32, C: u32,
  Ho: u32, Wo: u32, KH: u32, KW: u32,
  sh: u32, sw: u32, ph: i32, pw: i32,
  total: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

// forward bindings
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> argmax: array<i32>;
// backward bindings (same slots, used by the other entry point)
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> argmaxIn: array<i32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;

@group(0) @binding(3) var<uniform> params: Params;

fn linearIndex(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 { return (wid.y * nwg.x + wid.x) * 256u + lid; }

/** Pixel t = (n·h + y)·w + x of a [N, h, w] grid as (x, y, n). */
fn pixelOf(t: u32, w: u32, h: u32) -> vec3<u32> {
  let r = t / w;
  return vec3<u32>(t - r * w, r % h, r / h);
}

/** The outputs (ohLo, ohHi, owLo, owHi) whose window [o·s − p, o·s − p + k − 1] holds input (ih, iw). */
fn outputsOf(ih: i32, iw: i32) -> vec4<i32> {
  let sh = i32(params.sh);
  let sw = i32(params.sw);
  let nh = ih + params.ph - i32(params.KH) + 1;
  let nw = iw + params.pw - i32(params.KW) + 1;
  return vec4<i32>(select(0, (nh + sh - 1) / sh, nh > 0), min(i32(params.Ho) - 1, (ih + params.ph) / sh),
                   select(0, (nw + sw - 1) / sw, nw > 0), min(i32(params.Wo) - 1, (iw + params.pw) / sw));
}

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let e = linearIndex(wid, nwg, lid);
  if (e >= params.total) { return; }
  let c = e % params.C;
  let px = pixelOf(e / params.C, params.Wo, params.Ho);
  let ow = px.x;
  let oh = px.y;
  let n = px.z;
  var best = 0.0;
  var bi = -1;
  for (var i = 0u; i < params.KH; i++) {
    let hi = i32(oh * params.sh + i) - params.ph;
    if (hi < 0 || hi >= i32(params.H)) { continue; }
    for (var j = 0u; j < params.KW; j++) {
      let wi = i32(ow * params.sw + j) - params.pw;
      if (wi < 0 || wi >= i32(params.W)) { continue; }
      let v = x[((n * params.H + u32(hi)) * params.W + u32(wi)) * params.C + c];
      if (v > best || bi < 0) { best = v; bi = hi * i32(params.W) + wi; }
    }
  }
  y[e] = best;
  argmax[e] = bi;
}

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let e = linearIndex(wid, nwg, lid);
  if (e >= params.total) { return; }
  let c = e % params.C;
  let px = pixelOf(e / params.C, params.W, params.H);
  let iw = i32(px.x);
  let ih = i32(px.y);
  let n = px.z;
  let r = outputsOf(ih, iw);
  let me = ih * i32(params.W) + iw;
  var s = 0.0;
  for (var oh = r.x; oh <= r.y; oh++) {
    for (var ow = r.z; ow <= r.w; ow++) {
      let o = ((n * params.Ho + u32(oh)) * params.Wo + u32(ow)) * params.C + c;
      if (argmaxIn[o] == me) { s += dy[o]; }
    }
  }
  dx[e] = s;
}

// ---- four channels per thread (C % 4 == 0); bindings as above, viewed as vec4 arrays ----

@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> argmax4: array<vec4<i32>>;
@group(0) @binding(0) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> argmaxIn4: array<vec4<i32>>;
@group(0) @binding(2) var<storage, read_write> dx4: array<vec4<f32>>;

@compute @workgroup_size(256)
fn forward4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_index) lid: u32) {
  let e = linearIndex(wid, nwg, lid);  // output vec4 (n, oh, ow, c4)
  let C4 = params.C / 4u;
  if (e >= params.total / 4u) { return; }
  let c4 = e % C4;
  let px = pixelOf(e / C4, params.Wo, params.Ho);
  let ow = px.x;
  let oh = px.y;
  let n = px.z;
  var best = vec4<f32>(0.0);
  var bi = vec4<i32>(-1);
  for (var i = 0u; i < params.KH; i++) {
    let hi = i32(oh * params.sh + i) - params.ph;
    if (hi < 0 || hi >= i32(params.H)) { continue; }
    for (var j = 0u; j < params.KW; j++) {
      let wi = i32(ow * params.sw + j) - params.pw;
      if (wi < 0 || wi >= i32(params.W)) { continue; }
      let v = x4[((n * params.H + u32(hi)) * params.W + u32(wi)) * C4 + c4];
      let take = (v > best) | (bi < vec4<i32>(0));
      best = select(best, v, take);
      bi = select(bi, vec4<i32>(hi * i32(params.W) + wi), take);
    }
  }
  y4[e] = best;
  argmax4[e] = bi;
}

@compute @workgroup_size(256)
fn backward4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let e = linearIndex(wid, nwg, lid);  // input vec4 (n, ih, iw, c4)
  let C4 = params.C / 4u;
  if (e >= params.total / 4u) { return; }
  let c4 = e % C4;
  let px = pixelOf(e / C4, params.W, params.H);
  let iw = i32(px.x);
  let ih = i32(px.y);
  let n = px.z;
  let r = outputsOf(ih, iw);
  let me = vec4<i32>(ih * i32(params.W) + iw);
  var s = vec4<f32>(0.0);
  for (var oh = r.x; oh <= r.y; oh++) {
    for (var ow = r.z; ow <= r.w; ow++) {
      let o = ((n * params.Ho + u32(oh)) * params.Wo + u32(ow)) * C4 + c4;
      s += select(vec4<f32>(0.0), dy4[o], argmaxIn4[o] == me);
    }
  }
  dx4[e] = s;
}
