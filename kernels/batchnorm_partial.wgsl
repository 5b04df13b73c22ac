// Batch-norm reductions, level 1 of 2 (no atomics): x viewed as [G·M, C], channels last, in G
// groups of M rows with statistics of their own (G = 2: two views in one batch, each normalised
// as if alone). Workgroup (16, 16): x = a group of 4 channels (64 channels per workgroup,
// 256-byte coalesced row reads), y = 16 row lanes over this workgroup's chunk of rows (chunks
// never straddle groups: workgroup row wid.y is chunk wid.y % chunks of group wid.y / chunks);
// the lanes are then summed in workgroup memory and the chunk's two per-channel sums written
// to part[group·chunks + chunk][2][C].
//   moments  (BACKWARD = false): S1 = Σ (x − s), S2 = Σ (x − s)²  with the shift s = the
//            group's first row (shifted sums keep E[x²] − E[x]² from cancelling when |mean| ≫ std)
//   backward (BACKWARD = true):  S1 = Σ dy,      S2 = Σ dy · (x − mean_g)·invstd_g
//     RELU_MASK (with VEC only): dy is first masked where the forward's fused ReLU output y is
//     0, and the masked gradient written to gm, one 16-byte store per 4 channels (the pass reads
//     every dy once anyway; the dx pass and a residual branch then use gm, with no separate
//     masking pass)
//     RELU_FROM_X: the ReLU's output was never stored (a batch norm applied in a convolution's
//     operand reads): the mask is where (x − mean)·scale + beta ≤ 0 instead, with the terms
//     packed [G][3][C] by batchnorm_pack.wgsl in y's binding
// batchnorm_finalize.wgsl adds the chunks.

override BACKWARD: bool = false;
override VEC: bool = false;  // C % 4 == 0: 4 channels are one aligned vec4
override RELU_MASK: bool = false;
override RELU_FROM_X: bool = false;

struct Params { M: u32, C: u32, rowsPerChunk: u32, chunks: u32 }  // M, chunks: per group

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> dy: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> invstd: array<f32>;
@group(0) @binding(4) var<storage, read_write> part: array<f32>;
@group(0) @binding(5) var<storage, read> y: array<vec4<f32>>;         // RELU_MASK: the ReLU's output (RELU_FROM_X: the terms)
@group(0) @binding(6) var<storage, read_write> gm: array<vec4<f32>>;  // RELU_MASK: masked dy
@group(0) @binding(7) var<uniform> params: Params;

var<workgroup> red1: array<vec4<f32>, 256>;
var<workgroup> red2: array<vec4<f32>, 256>;

/** Four channels c0..c0+3 of row r (zeros past C). */
fn load4(buf: ptr<storage, array<vec4<f32>>, read>, r: u32, c0: u32) -> vec4<f32> {
  let i = r * params.C + c0;
  if (VEC) { return (*buf)[i / 4u]; }
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) {
    if (c0 + j < params.C) { let e = i + j; v[j] = (*buf)[e / 4u][e % 4u]; }
  }
  return v;
}

/** Per-channel vector of group g's row of a [G, C] buffer at c0..c0+3 (zeros past C). */
fn chan4(buf: ptr<storage, array<f32>, read>, g: u32, c0: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) { if (c0 + j < params.C) { v[j] = (*buf)[g * params.C + c0 + j]; } }
  return v;
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c0 = (wid.x * 16u + lid.x) * 4u;
  let g = wid.y / params.chunks;
  let first = g * params.M;
  let r0 = first + (wid.y % params.chunks) * params.rowsPerChunk;
  let r1 = min(first + params.M, r0 + params.rowsPerChunk);
  var s1 = vec4<f32>(0.0);
  var s2 = vec4<f32>(0.0);
  if (c0 < params.C) {
    if (BACKWARD) {
      let mu = chan4(&mean, g, c0);
      let is = chan4(&invstd, g, c0);
      var scale = vec4<f32>(0.0);
      var shift = vec4<f32>(0.0);
      if (RELU_FROM_X) {
        let t = (3u * g * params.C + c0) / 4u;  // VEC: C and c0 multiples of 4
        scale = y[t + params.C / 4u];
        shift = y[t + params.C / 2u];
      }
      for (var r = r0 + lid.y; r < r1; r += 16u) {
        var g = load4(&dy, r, c0);
        let xv = load4(&x, r, c0);
        if (RELU_MASK) {
          var positive: vec4<bool>;
          if (RELU_FROM_X) { positive = (xv - mu) * scale + shift > vec4<f32>(0.0); }
          else { positive = load4(&y, r, c0) > vec4<f32>(0.0); }
          g = select(vec4<f32>(0.0), g, positive);
          gm[(r * params.C + c0) / 4u] = g;  // VEC: c0 + 3 < C, 16-byte aligned
        }
        s1 += g;
        s2 += g * (xv - mu) * is;
      }
    } else {
      let shift = load4(&x, first, c0);
      for (var r = r0 + lid.y; r < r1; r += 16u) {
        let d = load4(&x, r, c0) - shift;
        s1 += d;
        s2 += d * d;
      }
    }
  }
  let slot = lid.y * 16u + lid.x;
  red1[slot] = s1;
  red2[slot] = s2;
  workgroupBarrier();
  for (var s = 8u; s > 0u; s >>= 1u) {
    if (lid.y < s) {
      red1[slot] += red1[slot + s * 16u];
      red2[slot] += red2[slot + s * 16u];
    }
    workgroupBarrier();
  }
  if (lid.y == 0u && c0 < params.C) {
    let base = wid.y * 2u * params.C;
    for (var j = 0u; j < 4u; j++) {
      if (c0 + j < params.C) {
        part[base + c0 + j] = red1[lid.x][j];
        part[base + params.C + c0 + j] = red2[lid.x][j];
      }
    }
  }
}
