// CO-SSL's fused local cosine loss (SPEC §2). Rows are (b, i): local position i of sample b.
// stats: one workgroup per row reduces the dot products it needs and stores, per row,
//   (c1 = cos(pl, zg), c2 = cos(p, zl), |pl|, |zl|, |zg|, |p|)    (norms clamped at 1e-12)
// (the per-sample sum of the forward is kernels/local_loss_sum.wgsl)
// grad_local / grad_global: elementwise gradients from the stats; nothing B·P·D-sized is
// written except the gradient of the local predictions itself.

struct Params { B: u32, P: u32, D: u32, _p: u32 }

const EPS: f32 = 1e-12;
override WG: u32 = 64u;

@group(0) @binding(0) var<storage, read> a0: array<f32>;
@group(0) @binding(1) var<storage, read> a1: array<f32>;
@group(0) @binding(2) var<storage, read> a2: array<f32>;
@group(0) @binding(3) var<storage, read> a3: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

var<workgroup> red: array<vec3f, WG>;
var<workgroup> red2: array<vec3f, WG>;

fn row_of(wid: vec3u, nwg: vec3u) -> u32 { return wid.x + wid.y * nwg.x; }

// stats: a0 = pl [B,P,D], a1 = zg [B,D], a2 = p [B,D], a3 = zl [B,P,D], out = stats [B·P, 6]
@compute @workgroup_size(WG)
fn stats(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
         @builtin(local_invocation_index) t: u32) {
  let row = row_of(wid, nwg);
  let D = params.D;
  let live = row < params.B * params.P;
  let b = select(0u, row / params.P, live);
  let n = select(0u, D, live);
  var s = vec3f(0.0);   // pl·zg, pl·pl, zg·zg
  var q = vec3f(0.0);   // p·zl, zl·zl, p·p
  for (var d = t; d < n; d += WG) {
    let l = a0[row * D + d];
    let g = a1[b * D + d];
    let pg = a2[b * D + d];
    let z = a3[row * D + d];
    s += vec3f(l * g, l * l, g * g);
    q += vec3f(pg * z, z * z, pg * pg);
  }
  red[t] = s;
  red2[t] = q;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    if (t < k) { red[t] += red[t + k]; red2[t] += red2[t + k]; }
    workgroupBarrier();
  }
  if (t == 0u && live) {
    let S = red[0];
    let Q = red2[0];
    let npl = max(sqrt(S.y), EPS);
    let nzg = max(sqrt(S.z), EPS);
    let nzl = max(sqrt(Q.y), EPS);
    let np = max(sqrt(Q.z), EPS);
    let o = row * 6u;
    out[o] = S.x / (npl * nzg);
    out[o + 1u] = Q.x / (np * nzl);
    out[o + 2u] = npl;
    out[o + 3u] = nzl;
    out[o + 4u] = nzg;
    out[o + 5u] = np;
  }
}

// grad_local: a0 = pl, a1 = zg, a2 = stats, a3 = dLoss [B], out = dpl [B,P,D]
//   dpl = −dLoss[b]/P · (zg/|zg| − c1·pl/|pl|) / |pl|
@compute @workgroup_size(256)
fn grad_local(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = gid.x + gid.y * nwg.x * 256u;
  let D = params.D;
  if (e >= params.B * params.P * D) { return; }
  let row = e / D;
  let d = e % D;
  let b = row / params.P;
  let o = row * 6u;
  let c1 = a2[o];
  let npl = a2[o + 2u];
  let nzg = a2[o + 4u];
  let scale = -a3[b] / f32(params.P);
  out[e] = scale * (a1[b * D + d] / nzg - c1 * a0[e] / npl) / npl;
}

// grad_global: a0 = p, a1 = zl, a2 = stats, a3 = dLoss, out = dp [B,D]
//   dp = −dLoss[b]/P · Σ_i (zl_i/|zl_i| − c2_i·p/|p|) / |p|
@compute @workgroup_size(256)
fn grad_global(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = gid.x + gid.y * nwg.x * 256u;
  let D = params.D;
  if (e >= params.B * D) { return; }
  let b = e / D;
  let d = e % D;
  let pv = a0[e];
  var acc = 0.0;
  var np = 1.0;
  for (var i = 0u; i < params.P; i++) {
    let row = b * params.P + i;
    let o = row * 6u;
    np = a2[o + 5u];
    acc += a1[row * D + d] / a2[o + 3u] - a2[o + 1u] * pv / np;
  }
  out[e] = (-a3[b] / f32(params.P)) * acc / np;
}
