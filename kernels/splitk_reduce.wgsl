// Split-K epilogue: out = Σ_s part[s] in a fixed order (deterministic; no float atomics).
// part[s] is [Co, J]; for conv2d_bwd_weight.wgsl J = (kh, kw, ci), ci fastest, and the sum is
// written in OIHW. With KK = 1 and C = J (split-K matmul) that is plain row-major [Co, J].

struct Params { Co: u32, J: u32, C: u32, KK: u32, splits: u32, _pad0: u32, _pad1: u32, _pad2: u32 }

@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> dw: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = (wid.y * nwg.x + wid.x) * 256u + lid;
  let total = params.Co * params.J;
  if (e >= total) { return; }
  var s = 0.0;
  for (var k = 0u; k < params.splits; k++) { s += part[k * total + e]; }
  let co = e / params.J;
  let j = e % params.J;
  dw[(co * params.C + j % params.C) * params.KK + j / params.C] = s;
}
