// Forward of the fused local cosine loss, second pass: loss[b] = −(1/P)·Σ_i (c1 + c2) over the
// per-row statistics written by local_loss.wgsl's `stats` (6 values per row).

struct Params { B: u32, P: u32, D: u32, _p: u32 }

@group(0) @binding(0) var<storage, read> stats: array<f32>;
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let b = gid.x;
  if (b >= params.B) { return; }
  var s = 0.0;
  for (var i = 0u; i < params.P; i++) {
    let o = (b * params.P + i) * 6u;
    s += stats[o] + stats[o + 1u];
  }
  loss[b] = -s / f32(params.P);
}
