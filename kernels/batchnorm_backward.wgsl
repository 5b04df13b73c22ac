// Batch-norm backward, elementwise pass (after batchnorm_partial/finalize with BACKWARD):
//   x̂ = (x − mean)·invstd,  dx = gamma·invstd/M · (M·dy − dbeta − x̂·dgamma).
// GROUPED: x is G groups of M rows (groupSize elements each) with statistics and sums
// (mean, invstd, dgamma = Σdy·x̂, dbeta = Σdy) [G, C] of their own.
// Threads stride over the elements by `stride`, a multiple of C (of C/4 in main_vec4), so each
// thread stays on one channel and loads its per-channel terms once per group (as in
// batchnorm_normalize.wgsl): no integer division in the loop.

override HAS_GAMMA: bool = false;
override GROUPED: bool = false;

struct Params { total: u32, C: u32, M: u32, groupSize: u32, stride: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> invstd: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> dgamma: array<f32>;
@group(0) @binding(6) var<storage, read> dbeta: array<f32>;
@group(0) @binding(7) var<storage, read_write> dx: array<f32>;
@group(0) @binding(8) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * 256u + lid;
  let n = params.total;
  if (t >= params.stride || t >= n) { return; }
  let C = params.C;
  let gs = params.groupSize;
  let m = f32(params.M);
  let c = t % C;
  var next = n;
  var is = 0.0;
  var k = 0.0;
  var mu = 0.0;
  var db = 0.0;
  var dg = 0.0;
  for (var e = t; e < n; e += params.stride) {
    if (e == t || (GROUPED && e >= next)) {
      var s = c;  // the statistics' index
      if (GROUPED) { let g = e / gs; s += g * C; next = (g + 1u) * gs; }
      is = invstd[s];
      k = is / m;
      if (HAS_GAMMA) { k *= gamma[c]; }
      mu = mean[s];
      db = dbeta[s];
      dg = dgamma[s];
    }
    let xh = (x[e] - mu) * is;
    dx[e] = k * (m * dy[e] - db - xh * dg);
  }
}

// The same pass four channels at a time (C % 4 == 0); bindings viewed as vec4 arrays.
@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> dy4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> mean4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> invstd4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> gamma4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> dgamma4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> dbeta4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> dx4: array<vec4<f32>>;
@group(0) @binding(8) var<uniform> params4: Params;

@compute @workgroup_size(256)
fn main_vec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let t = (wid.y * nwg.x + wid.x) * 256u + lid;
  let n = params4.total / 4u;
  if (t >= params4.stride || t >= n) { return; }
  let C4 = params4.C / 4u;
  let gs = params4.groupSize / 4u;
  let m = f32(params4.M);
  let c = t % C4;
  var next = n;
  var is = vec4<f32>(0.0);
  var k = vec4<f32>(0.0);
  var mu = vec4<f32>(0.0);
  var db = vec4<f32>(0.0);
  var dg = vec4<f32>(0.0);
  for (var e = t; e < n; e += params4.stride) {
    if (e == t || (GROUPED && e >= next)) {
      var s = c;
      if (GROUPED) { let g = e / gs; s += g * C4; next = (g + 1u) * gs; }
      is = invstd4[s];
      k = is / m;
      if (HAS_GAMMA) { k *= gamma4[c]; }
      mu = mean4[s];
      db = dbeta4[s];
      dg = dgamma4[s];
    }
    let xh = (x4[e] - mu) * is;
    dx4[e] = k * (m * dy4[e] - db - xh * dg);
  }
}
