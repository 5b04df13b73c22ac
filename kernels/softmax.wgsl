// Softmax family over the last axis, one workgroup per row (rows = product of leading dims).
// Each row: a max pass, a sum pass (both tree-reduced in workgroup memory), then the write.
// `log` selects log-softmax (a uniform: barrier-heavy pipelines compile slowly on lavapipe, so
// variants are kept few). Rows past the end still take part in the barriers.

struct Params { rows: u32, K: u32, log: u32, _p1: u32 }

override WG: u32 = 128u;

var<workgroup> red: array<f32, WG>;

fn wg_sum(v: f32, t: u32) -> f32 {
  workgroupBarrier();
  red[t] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] += red[t + s]; }
    workgroupBarrier();
  }
  return red[0];
}

fn wg_max(v: f32, t: u32) -> f32 {
  workgroupBarrier();
  red[t] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] = max(red[t], red[t + s]); }
    workgroupBarrier();
  }
  return red[0];
}

// Lowest finite f32 (WGSL forbids infinite constants).
const LOWEST: f32 = -0x1.fffffep+127f;

// ---- forward: y = softmax(x) or log softmax(x)
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WG)
fn softmax_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * nwg.x;
  let K = params.K;
  let n = select(0u, K, row < params.rows);
  let base = row * K;
  var m = LOWEST;
  for (var k = t; k < n; k += WG) { m = max(m, x[base + k]); }
  m = wg_max(m, t);
  var s = 0.0;
  for (var k = t; k < n; k += WG) { s += exp(x[base + k] - m); }
  s = wg_sum(s, t);
  if (params.log != 0u) {
    let lse = m + log(s);
    for (var k = t; k < n; k += WG) { y[base + k] = x[base + k] - lse; }
  } else {
    let inv = 1.0 / s;
    for (var k = t; k < n; k += WG) { y[base + k] = exp(x[base + k] - m) * inv; }
  }
}

// ---- backward: softmax dx = y·(dy − Σ dy·y); log-softmax dx = dy − exp(y)·Σ dy
@group(0) @binding(0) var<storage, read> by: array<f32>;
@group(0) @binding(1) var<storage, read> bdy: array<f32>;
@group(0) @binding(2) var<storage, read_write> bdx: array<f32>;
@group(0) @binding(3) var<uniform> bparams: Params;

@compute @workgroup_size(WG)
fn softmax_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * nwg.x;
  let K = bparams.K;
  let n = select(0u, K, row < bparams.rows);
  let base = row * K;
  var s = 0.0;
  for (var k = t; k < n; k += WG) {
    if (bparams.log != 0u) { s += bdy[base + k]; } else { s += bdy[base + k] * by[base + k]; }
  }
  s = wg_sum(s, t);
  for (var k = t; k < n; k += WG) {
    let i = base + k;
    if (bparams.log != 0u) { bdx[i] = bdy[i] - exp(by[i]) * s; } else { bdx[i] = by[i] * (bdy[i] - s); }
  }
}

// ---- cross-entropy: loss[n] = logsumexp(x[n]) − x[n, label[n]] (NaN for a label out of range)
@group(0) @binding(0) var<storage, read> cx: array<f32>;
@group(0) @binding(1) var<storage, read> clabel: array<i32>;
@group(0) @binding(2) var<storage, read_write> closs: array<f32>;
@group(0) @binding(3) var<uniform> cparams: Params;

@compute @workgroup_size(WG)
fn ce_fwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * nwg.x;
  let K = cparams.K;
  let n = select(0u, K, row < cparams.rows);
  let base = row * K;
  var m = LOWEST;
  for (var k = t; k < n; k += WG) { m = max(m, cx[base + k]); }
  m = wg_max(m, t);
  var s = 0.0;
  for (var k = t; k < n; k += WG) { s += exp(cx[base + k] - m); }
  s = wg_sum(s, t);
  if (t == 0u && row < cparams.rows) {
    let label = clabel[row];
    if (label < 0 || u32(label) >= K) { closs[row] = bitcast<f32>(0x7fc00000u | (u32(label) & 0u)); } // NaN, built at run time
    else { closs[row] = m + log(s) - cx[base + u32(label)]; }
  }
}

// ---- its gradient: dx[n] = (softmax(x[n]) − onehot(label[n]))·dLoss[n]
@group(0) @binding(0) var<storage, read> gx: array<f32>;
@group(0) @binding(1) var<storage, read> glabel: array<i32>;
@group(0) @binding(2) var<storage, read> gdloss: array<f32>;
@group(0) @binding(3) var<storage, read_write> gdx: array<f32>;
@group(0) @binding(4) var<uniform> gparams: Params;

@compute @workgroup_size(WG)
fn ce_bwd(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * nwg.x;
  let K = gparams.K;
  let n = select(0u, K, row < gparams.rows);
  let base = row * K;
  var m = LOWEST;
  for (var k = t; k < n; k += WG) { m = max(m, gx[base + k]); }
  m = wg_max(m, t);
  var s = 0.0;
  for (var k = t; k < n; k += WG) { s += exp(gx[base + k] - m); }
  s = wg_sum(s, t);
  if (n == 0u) { return; }
  let inv = 1.0 / s;
  let label = glabel[row];
  let g = gdloss[row];
  for (var k = t; k < n; k += WG) {
    let onehot = select(0.0, 1.0, i32(k) == label);
    gdx[base + k] = (exp(gx[base + k] - m) * inv - onehot) * g;
  }
}
