// Batch-norm reductions, level 2 of 2: one thread per channel adds the chunks' partial sums
// (batchnorm_partial.wgsl) in a fixed order.
//   main, moments  (BACKWARD = false): out0 = mean = s + S1/M, out1 = biased variance = S2/M − (S1/M)²
//   main, backward (BACKWARD = true):  out0 = dgamma = Σ dy·x̂,   out1 = dbeta = Σ dy
//   statistics: training-mode batch norm's whole finalisation in the same pass (one dispatch
//     where moments + batchnorm_running.wgsl took two): out0 = mean, out1 = invstd =
//     1/√(var + eps), and with RUNNING the running statistics updated in place (unbiased
//     variance) and the i32 batch counter incremented by thread 0.

override BACKWARD: bool = false;
override RUNNING: bool = false;

struct Params { M: u32, C: u32, chunks: u32, _pad: u32 }
struct StatParams { M: u32, C: u32, chunks: u32, _pad: u32, eps: f32, momentum: f32, unbias: f32, _pad2: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out0: array<f32>;
@group(0) @binding(3) var<storage, read_write> out1: array<f32>;
// main: the uniform follows the four buffers. statistics: three more buffers, then its uniform
// (the runtime binds the uniform after the buffers; an entry point sees only the variables it uses).
@group(0) @binding(4) var<uniform> params: Params;
@group(0) @binding(4) var<storage, read_write> run_mean: array<f32>;
@group(0) @binding(5) var<storage, read_write> run_var: array<f32>;
@group(0) @binding(6) var<storage, read_write> count: array<i32>;
@group(0) @binding(7) var<uniform> sparams: StatParams;

/** The two chunk-summed partials of channel c (of C, over `chunks` chunks). */
fn sums(c: u32, C: u32, chunks: u32) -> vec2<f32> {
  var s1 = 0.0;
  var s2 = 0.0;
  for (var k = 0u; k < chunks; k++) {
    s1 += part[2u * k * C + c];
    s2 += part[(2u * k + 1u) * C + c];
  }
  return vec2<f32>(s1, s2);
}

/** Mean and biased variance of channel c over M rows from its shifted sums. */
fn meanVar(c: u32, M: u32, C: u32, chunks: u32) -> vec2<f32> {
  let s = sums(c, C, chunks);
  let m = f32(M);
  let d = s.x / m;
  return vec2<f32>(x[c] + d, max(s.y / m - d * d, 0.0));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= params.C) { return; }
  if (BACKWARD) {
    let s = sums(c, params.C, params.chunks);
    out0[c] = s.y;
    out1[c] = s.x;
  } else {
    let mv = meanVar(c, params.M, params.C, params.chunks);
    out0[c] = mv.x;
    out1[c] = mv.y;
  }
}

@compute @workgroup_size(64)
fn statistics(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= sparams.C) { return; }
  let mv = meanVar(c, sparams.M, sparams.C, sparams.chunks);
  out0[c] = mv.x;
  out1[c] = 1.0 / sqrt(mv.y + sparams.eps);
  if (RUNNING) {
    let m = sparams.momentum;
    run_mean[c] = (1.0 - m) * run_mean[c] + m * mv.x;
    run_var[c] = (1.0 - m) * run_var[c] + m * mv.y * sparams.unbias;
    if (c == 0u) { count[0] = count[0] + 1; }
  }
}
