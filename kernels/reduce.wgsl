// Sum / max over arbitrary axes without permuting: the wrapper merges adjacent dims into at most
// 4 kept and 4 reduced groups, each with a shape and an input stride. Output element o (kept
// coordinates) reduces R elements (reduced coordinates). op: 0 sum, 1 max. `scale` multiplies
// the result (1/R for mean on the final pass).
//
// reduce_thread: one thread per output, a serial loop (small R, or many outputs; coalesced when
//   the reduced axes are outer, as for per-channel sums of NHWC maps).
// reduce_wg: one workgroup per (output, chunk of R), strided loop then a tree in workgroup
//   memory; with G > 1 chunks it writes partials [nOut, G] that a second pass reduces.

struct Params {
  nOut: u32, R: u32, G: u32, chunk: u32,
  keptRank: u32, redRank: u32, scale: f32, op: u32,
  keptShape: vec4u, keptStride: vec4u,
  redShape: vec4u, redStride: vec4u,
}

// The op is a uniform, not an override: pipelines with workgroup barriers compile slowly on
// lavapipe (~0.5 s each), and a select per element costs nothing in a memory-bound loop.
override WG: u32 = 128u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> partial: array<f32, WG>;

// Lowest finite f32 for max (WGSL forbids infinite constants).
fn identity() -> f32 { return select(0.0, -0x1.fffffep+127f, params.op == 1u); }
fn combine(a: f32, b: f32) -> f32 { return select(a + b, max(a, b), params.op == 1u); }

fn kept_offset(o: u32) -> u32 {
  var rem = o;
  var off = 0u;
  for (var k = i32(params.keptRank) - 1; k >= 0; k--) {
    let size = params.keptShape[k];
    off += (rem % size) * params.keptStride[k];
    rem /= size;
  }
  return off;
}

fn red_offset(r: u32) -> u32 {
  var rem = r;
  var off = 0u;
  for (var k = i32(params.redRank) - 1; k >= 0; k--) {
    let size = params.redShape[k];
    off += (rem % size) * params.redStride[k];
    rem /= size;
  }
  return off;
}

@compute @workgroup_size(256)
fn reduce_thread(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = gid.x + gid.y * nwg.x * 256u;
  if (o >= params.nOut) { return; }
  let base = kept_offset(o);
  var acc = identity();
  for (var r = 0u; r < params.R; r++) { acc = combine(acc, x[base + red_offset(r)]); }
  out[o] = acc * params.scale;
}

@compute @workgroup_size(WG)
fn reduce_wg(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) t: u32) {
  let w = wid.x + wid.y * nwg.x;            // uniform across the workgroup
  let inRange = w < params.nOut * params.G;
  let o = w / params.G;
  let g = w % params.G;
  var acc = identity();
  if (inRange) {
    let base = kept_offset(o);
    let end = min((g + 1u) * params.chunk, params.R);
    for (var r = g * params.chunk + t; r < end; r += WG) { acc = combine(acc, x[base + red_offset(r)]); }
  }
  partial[t] = acc;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) { partial[t] = combine(partial[t], partial[t + s]); }
    workgroupBarrier();
  }
  if (t == 0u && inRange) { out[w] = partial[0] * params.scale; }
}
