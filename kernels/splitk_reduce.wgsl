// Split-K epilogue: out = Σ_s part[s] in a fixed order (deterministic; no float atomics).
// part[s] is [Co, J]; for conv2d_bwd_weight.wgsl J = (kh, kw, ci), ci fastest, and the sum is
// written in OIHW. With KK = 1 and C = J (split-K matmul) that is plain row-major [Co, J].
// Workgroup (OUTS, LANES): OUTS outputs, each summed by LANES lanes that take every LANES-th
// slice, then a tree in workgroup memory. A weight gradient's output can be small (36,864
// values for a 3×3 64→64 layer) with many slices (~60): one thread per output would leave a GPU
// nearly idle on chains of 60 dependent loads. Large outputs with few slices want one thread per
// output (LANES = 1: no barrier is reached); splitKShape in ops/gemm.ts chooses.
// A split-K matmul's epilogue (HAS_BIAS, HAS_RESIDUAL, RELU, as in matmul.wgsl) is applied here,
// once, to the sum: a linear layer's bias on a long-K, few-row product (MLP heads, probes).

override OUTS: u32 = 256u;
override LANES: u32 = 1u;  // a power of two
override HAS_BIAS: bool = false;      // + bias[j] (KK = 1 only)
override HAS_RESIDUAL: bool = false;  // + residual[e] (KK = 1 only)
override RELU: bool = false;

struct Params { Co: u32, J: u32, C: u32, KK: u32, splits: u32, _pad0: u32, _pad1: u32, _pad2: u32 }

@group(0) @binding(0) var<storage, read> part: array<f32>;
@group(0) @binding(1) var<storage, read_write> dw: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> residual: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> red: array<f32, OUTS * LANES>;

@compute @workgroup_size(OUTS, LANES)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>) {
  let e = (wid.y * nwg.x + wid.x) * OUTS + lid.x;
  let total = params.Co * params.J;
  var s = 0.0;
  if (e < total) {
    for (var k = lid.y; k < params.splits; k += LANES) { s += part[k * total + e]; }
  }
  if (LANES > 1u) {
    let slot = lid.y * OUTS + lid.x;
    red[slot] = s;
    workgroupBarrier();
    for (var h = LANES / 2u; h > 0u; h >>= 1u) {
      if (lid.y < h) { red[slot] += red[slot + h * OUTS]; }
      workgroupBarrier();
    }
    s = red[lid.x];
  }
  if (lid.y != 0u || e >= total) { return; }
  let co = e / params.J;
  let j = e % params.J;
  if (HAS_BIAS) { s += bias[j]; }
  if (HAS_RESIDUAL) { s += residual[e]; }
  if (RELU) { s = max(s, 0.0); }
  dw[(co * params.C + j % params.C) * params.KK + j / params.C] = s;
}
