// Batch-norm reductions, level 2 of 2: one thread per channel adds the chunks' partial sums
// (batchnorm_partial.wgsl) in a fixed order, for each of the G row groups in turn (G = 2: two
// views in one batch, each with statistics of its own; results per group are [G, C]).
//   main, moments  (BACKWARD = false): out0 = mean_g = s_g + S1/M, out1 = biased variance_g =
//     S2/M − (S1/M)²  (M rows per group, s_g the shift partial used: the group's first row)
//   main, backward (BACKWARD = true): out0 = Σ dy·x̂ and out1 = Σ dy per group (for dx), out2 =
//     dgamma and out3 = dbeta, summed over the groups (the parameters' gradients)
//   statistics: training-mode batch norm's whole finalisation in the same pass (one dispatch
//     where moments + batchnorm_running.wgsl took two): out0 = mean_g, out1 = invstd_g =
//     1/√(var_g + eps), and with RUNNING the running statistics out2/out3 updated in place once
//     per group in order (unbiased variance: as G separate forwards would) and the i32 batch
//     counter increased by G.

override BACKWARD: bool = false;
override RUNNING: bool = false;

struct Params { M: u32, C: u32, chunks: u32, G: u32, eps: f32, momentum: f32, unbias: f32, _pad: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out0: array<f32>;
@group(0) @binding(3) var<storage, read_write> out1: array<f32>;
@group(0) @binding(4) var<storage, read_write> out2: array<f32>;
@group(0) @binding(5) var<storage, read_write> out3: array<f32>;
// The runtime binds the uniform after the buffers, and an entry point sees only what it uses:
// main's uniform is binding 6, statistics has the batch counter there and its uniform at 7.
@group(0) @binding(6) var<uniform> params: Params;
@group(0) @binding(6) var<storage, read_write> count: array<i32>;
@group(0) @binding(7) var<uniform> sparams: Params;

/** Group g's two chunk-summed partials of channel c (of C; `chunks` chunks per group). */
fn sums(c: u32, g: u32, C: u32, chunks: u32) -> vec2<f32> {
  var s1 = 0.0;
  var s2 = 0.0;
  for (var k = g * chunks; k < (g + 1u) * chunks; k++) {
    s1 += part[2u * k * C + c];
    s2 += part[(2u * k + 1u) * C + c];
  }
  return vec2<f32>(s1, s2);
}

/** Mean and biased variance of channel c in group g (M rows) from its shifted sums. */
fn meanVar(c: u32, g: u32, M: u32, C: u32, chunks: u32) -> vec2<f32> {
  let s = sums(c, g, C, chunks);
  let m = f32(M);
  let d = s.x / m;
  return vec2<f32>(x[g * M * C + c] + d, max(s.y / m - d * d, 0.0));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let C = params.C;
  if (c >= C) { return; }
  var total = vec2<f32>(0.0);
  for (var g = 0u; g < params.G; g++) {
    if (BACKWARD) {
      let s = sums(c, g, C, params.chunks);
      out0[g * C + c] = s.y;
      out1[g * C + c] = s.x;
      total += s;
    } else {
      let mv = meanVar(c, g, params.M, C, params.chunks);
      out0[g * C + c] = mv.x;
      out1[g * C + c] = mv.y;
    }
  }
  if (BACKWARD) {
    out2[c] = total.y;
    out3[c] = total.x;
  }
}

@compute @workgroup_size(64)
fn statistics(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  let C = sparams.C;
  if (c >= C) { return; }
  for (var g = 0u; g < sparams.G; g++) {
    let mv = meanVar(c, g, sparams.M, C, sparams.chunks);
    out0[g * C + c] = mv.x;
    out1[g * C + c] = 1.0 / sqrt(mv.y + sparams.eps);
    if (RUNNING) {
      let m = sparams.momentum;
      out2[c] = (1.0 - m) * out2[c] + m * mv.x;
      out3[c] = (1.0 - m) * out3[c] + m * mv.y * sparams.unbias;
    }
  }
  if (RUNNING && c == 0u) { count[0] = count[0] + i32(sparams.G); }
}
