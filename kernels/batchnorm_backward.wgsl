// Batch-norm backward, elementwise pass (after batchnorm_partial/finalize with BACKWARD):
//   x̂ = (x − mean)·invstd,  dx = gamma·invstd/M · (M·dy − dbeta − x̂·dgamma).
// GROUPED: x is G groups of M rows (groupSize elements each) with statistics and sums
// (mean, invstd, dgamma = Σdy·x̂, dbeta = Σdy) [G, C] of their own.

override HAS_GAMMA: bool = false;
override GROUPED: bool = false;

struct Params { total: u32, C: u32, M: u32, groupSize: u32 }

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
  let e = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (e >= params.total) { return; }
  let c = e % params.C;
  var s = c;  // the statistics' index
  if (GROUPED) { s += (e / params.groupSize) * params.C; }
  let is = invstd[s];
  let m = f32(params.M);
  var k = is / m;
  if (HAS_GAMMA) { k *= gamma[c]; }
  let xh = (x[e] - mean[s]) * is;
  dx[e] = k * (m * dy[e] - dbeta[s] - xh * dgamma[s]);
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
  let e = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (e >= params4.total / 4u) { return; }
  let c = e % (params4.C / 4u);
  var s = c;
  if (GROUPED) { s += (e / (params4.groupSize / 4u)) * (params4.C / 4u); }
  let is = invstd4[s];
  let m = f32(params4.M);
  var k = is / m;
  if (HAS_GAMMA) { k *= gamma4[c]; }
  let xh = (x4[e] - mean4[s]) * is;
  dx4[e] = k * (m * dy4[e] - dbeta4[s] - xh * dgamma4[s]);
}
