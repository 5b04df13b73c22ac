// The per-channel terms of a training-mode batch norm that another kernel applies as it reads
// its input (a convolution's operand hooks; batch norm's backward ReLU mask): for each group g
// of rows and channel c,
//   pack[g][0][c] = mean[g, c],  pack[g][1][c] = invstd[g, c]·gamma[c],  pack[g][2][c] = beta[c]
// so the reader computes (x − pack[0])·pack[1] + pack[2], the same products in the same order as
// batchnorm_normalize.wgsl. One thread per (g, c).

override HAS_GAMMA: bool = false;
override HAS_BETA: bool = false;

struct Params { C: u32, total: u32, _p0: u32, _p1: u32 }  // total = G·C

@group(0) @binding(0) var<storage, read> mean: array<f32>;
@group(0) @binding(1) var<storage, read> invstd: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> pack: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.x;
  if (i >= params.total) { return; }
  let C = params.C;
  let g = i / C;
  let c = i - g * C;
  var scale = invstd[i];
  if (HAS_GAMMA) { scale *= gamma[c]; }
  var b = 0.0;
  if (HAS_BETA) { b = beta[c]; }
  let base = 3u * g * C + c;
  pack[base] = mean[i];
  pack[base + C] = scale;
  pack[base + 2u * C] = b;
}
