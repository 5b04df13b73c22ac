// Batch-norm apply, elementwise over x [M, C]:
//   y = (x − mean[c])·invstd[c]·gamma[c] + beta[c]  (+ residual[e] when HAS_RESIDUAL)  (ReLU when RELU)
// GROUPED: x is G groups of rows (groupSize elements each) with statistics [G, C] of their own.
// The epilogue ends a residual block (bn → + shortcut → ReLU) in one pass instead of three.
// Absent gamma/beta/residual are bound to a dummy and not read.

override HAS_GAMMA: bool = false;
override HAS_BETA: bool = false;
override HAS_RESIDUAL: bool = false;
override RELU: bool = false;
override GROUPED: bool = false;

struct Params { total: u32, C: u32, groupSize: u32, _pad: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> mean: array<f32>;
@group(0) @binding(2) var<storage, read> invstd: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read> residual: array<f32>;
@group(0) @binding(6) var<storage, read_write> y: array<f32>;
@group(0) @binding(7) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (e >= params.total) { return; }
  let c = e % params.C;
  var s = c;  // the statistics' index
  if (GROUPED) { s += (e / params.groupSize) * params.C; }
  var scale = invstd[s];
  if (HAS_GAMMA) { scale *= gamma[c]; }
  var v = (x[e] - mean[s]) * scale;
  if (HAS_BETA) { v += beta[c]; }
  if (HAS_RESIDUAL) { v += residual[e]; }
  if (RELU) { v = max(v, 0.0); }
  y[e] = v;
}

// The same pass four channels at a time (C % 4 == 0): 16-byte loads and stores, a quarter of
// the threads and of the index arithmetic. Bindings as above, viewed as vec4 arrays (an entry
// point uses one set or the other).
@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> mean4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> invstd4: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> gamma4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> beta4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> residual4: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(7) var<uniform> params4: Params;

@compute @workgroup_size(256)
fn main_vec4(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let e = (wid.y * nwg.x + wid.x) * 256u + lid;
  if (e >= params4.total / 4u) { return; }
  let c = e % (params4.C / 4u);
  var s = c;
  if (GROUPED) { s += (e / (params4.groupSize / 4u)) * (params4.C / 4u); }
  var scale = invstd4[s];
  if (HAS_GAMMA) { scale *= gamma4[c]; }
  var v = (x4[e] - mean4[s]) * scale;
  if (HAS_BETA) { v += beta4[c]; }
  if (HAS_RESIDUAL) { v += residual4[e]; }
  if (RELU) { v = max(v, vec4<f32>(0.0)); }
  y4[e] = v;
}
