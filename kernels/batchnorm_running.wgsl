// Batch-norm finalisation, one thread per channel: invstd = 1/√(var + eps), and (RUNNING = 1)
// the running statistics updated in place with the unbiased batch variance, plus the i32 batch
// counter incremented by thread 0.

struct Params { C: u32, eps: f32, momentum: f32, unbias: f32 }

override RUNNING: u32 = 0u;

@group(0) @binding(0) var<storage, read> mean: array<f32>;
@group(0) @binding(1) var<storage, read> variance: array<f32>;
@group(0) @binding(2) var<storage, read_write> invstd: array<f32>;
@group(0) @binding(3) var<storage, read_write> run_mean: array<f32>;
@group(0) @binding(4) var<storage, read_write> run_var: array<f32>;
@group(0) @binding(5) var<storage, read_write> count: array<i32>;
@group(0) @binding(6) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  if (c >= params.C) { return; }
  let v = variance[c];
  invstd[c] = 1.0 / sqrt(v + params.eps);
  if (RUNNING == 1u) {
    let m = params.momentum;
    run_mean[c] = (1.0 - m) * run_mean[c] + m * mean[c];
    run_var[c] = (1.0 - m) * run_var[c] + m * v * params.unbias;
    if (c == 0u) { count[0] = count[0] + 1; }
  }
}
