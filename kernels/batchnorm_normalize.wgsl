// Batch-norm apply, elementwise over x [M, C]:
//   y = (x − mean[c])·invstd[c]·gamma[c] + beta[c]  (+ residual[e] when HAS_RESIDUAL)  (ReLU when RELU)
// GROUPED: x is G groups of rows (groupSize elements each) with statistics [G, C] of their own.
// The epilogue ends a residual block (bn → + shortcut → ReLU) in one pass instead of three.
// Absent gamma/beta/residual are bound to a dummy and not read.
//
// Threads stride over the elements by `stride`, a multiple of C (of C/4 in main_vec4), so each
// thread stays on one channel: its channel is found with one division, its per-channel scale and
// shift are loaded once (again only when it crosses into the next group), and the loop does no
// integer division (one thread per element did two, and four small loads, per element).

override HAS_GAMMA: bool = false;
override HAS_BETA: bool = false;
override HAS_RESIDUAL: bool = false;
override RELU: bool = false;
override GROUPED: bool = false;

struct Params { total: u32, C: u32, groupSize: u32, stride: u32 }

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
  let t = (wid.y * nwg.x + wid.x) * 256u + lid;
  let n = params.total;
  if (t >= params.stride || t >= n) { return; }
  let C = params.C;
  let gs = params.groupSize;
  let c = t % C;
  var next = n;  // where this thread's group ends
  var scale = 0.0;
  var mu = 0.0;
  var b = 0.0;
  for (var e = t; e < n; e += params.stride) {
    if (e == t || (GROUPED && e >= next)) {
      var s = c;  // the statistics' index
      if (GROUPED) { let g = e / gs; s += g * C; next = (g + 1u) * gs; }
      scale = invstd[s];
      if (HAS_GAMMA) { scale *= gamma[c]; }
      mu = mean[s];
      if (HAS_BETA) { b = beta[c]; }
    }
    var v = (x[e] - mu) * scale + b;
    if (HAS_RESIDUAL) { v += residual[e]; }
    if (RELU) { v = max(v, 0.0); }
    y[e] = v;
  }
}

// The same pass four channels at a time (C % 4 == 0): 16-byte loads and stores. Bindings as
// above, viewed as vec4 arrays (an entry point uses one set or the other).
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
  let t = (wid.y * nwg.x + wid.x) * 256u + lid;
  let n = params4.total / 4u;
  if (t >= params4.stride || t >= n) { return; }
  let C4 = params4.C / 4u;
  let gs = params4.groupSize / 4u;
  let c = t % C4;
  var next = n;
  var scale = vec4<f32>(0.0);
  var mu = vec4<f32>(0.0);
  var b = vec4<f32>(0.0);
  for (var e = t; e < n; e += params4.stride) {
    if (e == t || (GROUPED && e >= next)) {
      var s = c;
      if (GROUPED) { let g = e / gs; s += g * C4; next = (g + 1u) * gs; }
      scale = invstd4[s];
      if (HAS_GAMMA) { scale *= gamma4[c]; }
      mu = mean4[s];
      if (HAS_BETA) { b = beta4[c]; }
    }
    var v = (x4[e] - mu) * scale + b;
    if (HAS_RESIDUAL) { v += residual4[e]; }
    if (RELU) { v = max(v, vec4<f32>(0.0)); }
    y4[e] = v;
  }
}
