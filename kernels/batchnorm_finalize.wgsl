// Batch-norm reductions, level 2 of 2: adds the chunks' partial sums (batchnorm_partial.wgsl) per
// channel in a fixed order, for each of the G row groups in turn (G = 2: two views in one batch,
// each with statistics of its own; results per group are [G, C]).
// Workgroup (CH, LANES): CH channels, each summed by LANES lanes that take every LANES-th chunk,
// then a tree in workgroup memory. On GPUs (16 × 16) that cuts the chain of dependent loads per
// thread 16-fold: with one thread per channel, a 64-channel layer's 528 chunks were one thread's
// serial loop of 1,056 loads in a single workgroup, with the rest of the GPU idle. CPU
// implementations use 64 × 1 (no barrier is ever reached; barriers are dear there).
//   main, moments  (BACKWARD = false): out0 = mean_g = s_g + S1/M, out1 = biased variance_g =
//     S2/M − (S1/M)²  (M rows per group, s_g the shift partial used: the group's first row)
//   main, backward (BACKWARD = true): out0 = Σ dy·x̂ and out1 = Σ dy per group (for dx), out2 =
//     dgamma and out3 = dbeta, summed over the groups (the parameters' gradients)
//   statistics: training-mode batch norm's whole finalisation in the same pass (one dispatch
//     where moments + batchnorm_running.wgsl took two): out0 = mean_g, out1 = invstd_g =
//     1/√(var_g + eps), and with RUNNING the running statistics out2/out3 updated in place once
//     per group in order (unbiased variance: as G separate forwards would) and the i32 batch
//     counter increased by G.
//   statistics with CHAN: the chunks are not shifted sums but each chunk's own (mean, M2 =
//     Σ (x − mean)²) over `rows` consecutive rows (the last chunk of a group may be shorter), as
//     a GEMM epilogue makes them for the tile rows of its output (matmul_core.wgsl, COL_STATS);
//     they are merged by Chan's rule, lane by lane, then across the lanes.

override BACKWARD: bool = false;
override RUNNING: bool = false;
override CH: u32 = 64u;
override LANES: u32 = 1u;  // a power of two
override CHAN: bool = false;

struct Params { M: u32, C: u32, chunks: u32, G: u32, eps: f32, momentum: f32, unbias: f32, rows: u32 }  // rows: CHAN

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

var<workgroup> red: array<vec2<f32>, CH * LANES>;
var<workgroup> redChan: array<vec4<f32>, select(1u, CH * LANES, CHAN)>;  // (n, mean, M2, 0)

/**
 * Group g's two chunk-summed partials of channel c (of C; `chunks` chunks per group), complete
 * in lane 0. Every thread of the workgroup calls it (it may hold barriers), c ≥ C included.
 */
fn sums(c: u32, lane: u32, slot: u32, g: u32, C: u32, chunks: u32) -> vec2<f32> {
  var s = vec2<f32>(0.0);
  if (c < C) {
    for (var k = g * chunks + lane; k < (g + 1u) * chunks; k += LANES) {
      s += vec2<f32>(part[2u * k * C + c], part[(2u * k + 1u) * C + c]);
    }
  }
  if (LANES == 1u) { return s; }
  red[slot] = s;
  workgroupBarrier();
  for (var h = LANES / 2u; h > 0u; h >>= 1u) {
    if (lane < h) { red[slot] += red[slot + h * CH]; }
    workgroupBarrier();
  }
  let total = red[slot % CH];
  workgroupBarrier();  // everyone has read it before the next group overwrites red
  return total;
}

/** Mean and biased variance of channel c in group g (M rows) from its shifted sums (lane 0). */
fn meanVar(s: vec2<f32>, c: u32, g: u32, M: u32, C: u32) -> vec2<f32> {
  let m = f32(M);
  let d = s.x / m;
  return vec2<f32>(x[g * M * C + c] + d, max(s.y / m - d * d, 0.0));
}

/** Chan's merge of two (count, mean, M2) summaries. */
fn chan(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  if (b.x == 0.0) { return a; }
  let n = a.x + b.x;
  let d = b.y - a.y;
  return vec4<f32>(n, a.y + d * (b.x / n), a.z + b.z + d * d * (a.x * b.x / n), 0.0);
}

/**
 * CHAN: group g's (mean, biased variance) of channel c from its chunks' (mean, M2) of `rows`
 * rows each (M rows in the group), complete in lane 0. Every thread calls it (barriers).
 */
fn merged(c: u32, lane: u32, slot: u32, g: u32, C: u32, chunks: u32, M: u32, rows: u32) -> vec2<f32> {
  var s = vec4<f32>(0.0);
  if (c < C) {
    for (var j = lane; j < chunks; j += LANES) {
      let k = g * chunks + j;
      let n = f32(min(rows, M - j * rows));
      s = chan(s, vec4<f32>(n, part[2u * k * C + c], part[(2u * k + 1u) * C + c], 0.0));
    }
  }
  if (LANES > 1u) {
    redChan[slot] = s;
    workgroupBarrier();
    for (var h = LANES / 2u; h > 0u; h >>= 1u) {
      if (lane < h) { redChan[slot] = chan(redChan[slot], redChan[slot + h * CH]); }
      workgroupBarrier();
    }
    s = redChan[slot % CH];
    workgroupBarrier();
  }
  return vec2<f32>(s.y, max(s.z / f32(M), 0.0));
}

@compute @workgroup_size(CH, LANES)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = wid.x * CH + lid.x;
  let C = params.C;
  let lane = lid.y;
  let slot = lid.y * CH + lid.x;
  let mine = lane == 0u && c < C;
  var total = vec2<f32>(0.0);
  for (var g = 0u; g < params.G; g++) {
    let s = sums(c, lane, slot, g, C, params.chunks);
    if (mine) {
      if (BACKWARD) {
        out0[g * C + c] = s.y;
        out1[g * C + c] = s.x;
        total += s;
      } else {
        let mv = meanVar(s, c, g, params.M, C);
        out0[g * C + c] = mv.x;
        out1[g * C + c] = mv.y;
      }
    }
  }
  if (BACKWARD && mine) {
    out2[c] = total.y;
    out3[c] = total.x;
  }
}

@compute @workgroup_size(CH, LANES)
fn statistics(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let c = wid.x * CH + lid.x;
  let C = sparams.C;
  let lane = lid.y;
  let slot = lid.y * CH + lid.x;
  let mine = lane == 0u && c < C;
  for (var g = 0u; g < sparams.G; g++) {
    var mv = vec2<f32>(0.0);
    if (CHAN) {
      mv = merged(c, lane, slot, g, C, sparams.chunks, sparams.M, sparams.rows);
    } else {
      let s = sums(c, lane, slot, g, C, sparams.chunks);
      if (mine) { mv = meanVar(s, c, g, sparams.M, C); }
    }
    if (mine) {
      out0[g * C + c] = mv.x;
      out1[g * C + c] = 1.0 / sqrt(mv.y + sparams.eps);
      if (RUNNING) {
        let m = sparams.momentum;
        out2[c] = (1.0 - m) * out2[c] + m * mv.x;
        out3[c] = (1.0 - m) * out3[c] + m * mv.y * sparams.unbias;
      }
    }
  }
  if (RUNNING && lane == 0u && c == 0u) { count[0] = count[0] + i32(sparams.G); }
}
