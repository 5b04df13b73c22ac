// Batch-norm reductions, level 2 of 2: one thread per channel adds the chunks' partial sums
// (batchnorm_partial.wgsl) in a fixed order.
//   moments  (BACKWARD = false): out0 = mean = s + S1/M, out1 = biased variance = S2/M − (S1/M)²
//   backward (BACKWARD = true):  out0 = dgamma = Σ dy·x̂,   out1 = dbeta = Σ dy

override BACKWARD: bool = false;

struct Params { M: u32, C: u32, chunks: u32, _pad: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out0: array<f32>;
@group(0) @binding(3) var<storage, read_write> out1: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= params.C) { return; }
  var s1 = 0.0;
  var s2 = 0.0;
  for (var k = 0u; k < params.chunks; k++) {
    s1 += part[2u * k * params.C + c];
    s2 += part[(2u * k + 1u) * params.C + c];
  }
  if (BACKWARD) {
    out0[c] = s2;
    out1[c] = s1;
  } else {
    let m = f32(params.M);
    let d = s1 / m;
    out0[c] = x[c] + d;
    out1[c] = max(s2 / m - d * d, 0.0);
  }
}
