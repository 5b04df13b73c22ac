// Whole-model training updates on flat buffers: EMA (target network) and the fused optimiser
// step (SGD / LARS / AdamW), rules as in src/backend/cpu/optim.ts.
// The optimiser runs in up to three passes: seg_partial (LARS only; grid S × SPLIT: workgroup
// (s, c) sums ‖w‖² and ‖g‖² over the c-th of SPLIT parts of segment s, so a 2.4M-element tensor
// is not one workgroup's serial walk), seg_scale (one thread per segment: its parts' sums → the segment's
// (lr scale, effective weight decay)), and opt_update (one thread per element: finds its
// segment by binary search, segments sorted by offset, and updates).
// Values that change per step (τ; lr and AdamW's bias corrections) are read from storage
// buffers, not the uniform block, so a recorded step can be replayed with new ones.

struct EmaParams { n: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read_write> ema_t: array<f32>;
@group(0) @binding(1) var<storage, read> ema_s: array<f32>;
@group(0) @binding(2) var<storage, read> ema_tau: array<f32>;  // [1]
@group(0) @binding(3) var<uniform> ep: EmaParams;

@compute @workgroup_size(256)
fn ema(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i < ep.n) {
    let tau = ema_tau[0];
    ema_t[i] = tau * ema_t[i] + (1.0 - tau) * ema_s[i];
  }
}

// kind: 0 sgd, 1 lars, 2 adamw (a uniform: barrier pipelines compile slowly on lavapipe).
// The per-step values are in a storage buffer `hyper`: (lr, 1 − β1^t, 1 − β2^t, 0).

struct OptParams {
  n: u32, S: u32, clipLr: u32, kind: u32,
  weightDecay: f32, momentum: f32, eta: f32, eps: f32,
  beta1: f32, beta2: f32, split: u32, _p0: u32,  // split: parts per segment (seg_partial)
}

@group(0) @binding(0) var<storage, read> sw: array<f32>;
@group(0) @binding(1) var<storage, read> sg: array<f32>;
@group(0) @binding(2) var<storage, read> sseg: array<i32>;
@group(0) @binding(3) var<storage, read_write> spart: array<vec2f>;  // [S, SPLIT]: (Σw², Σg²)
@group(0) @binding(4) var<uniform> sp: OptParams;

var<workgroup> wsum: array<f32, 256>;
var<workgroup> gsum: array<f32, 256>;

@compute @workgroup_size(256)
fn seg_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let s = wid.x;
  let split = sp.split;  // = the grid's height
  let off = u32(sseg[3u * s]);
  let n = u32(sseg[3u * s + 1u]);
  let adapt = sseg[3u * s + 2u] == 1;
  let per = (n + split - 1u) / split;
  let lo = wid.y * per;
  let hi = min(n, lo + per);
  var wn = 0.0;
  var gn = 0.0;
  if (sp.kind == 1u && adapt) {
    for (var i = lo + t; i < hi; i += 256u) {
      let w = sw[off + i];
      let g = sg[off + i];
      wn += w * w;
      gn += g * g;
    }
  }
  wsum[t] = wn;
  gsum[t] = gn;
  workgroupBarrier();
  for (var k = 128u; k > 0u; k >>= 1u) {
    if (t < k) { wsum[t] += wsum[t + k]; gsum[t] += gsum[t + k]; }
    workgroupBarrier();
  }
  if (t == 0u) { spart[s * split + wid.y] = vec2f(wsum[0], gsum[0]); }
}

@group(0) @binding(0) var<storage, read> fseg: array<i32>;
@group(0) @binding(1) var<storage, read> fpart: array<vec2f>;
@group(0) @binding(2) var<storage, read_write> fscale: array<vec2f>;
@group(0) @binding(3) var<storage, read> fhyper: array<f32>;
@group(0) @binding(4) var<uniform> fp: OptParams;

@compute @workgroup_size(64)
fn seg_scale(@builtin(global_invocation_id) gid: vec3u) {
  let s = gid.x;
  if (s >= fp.S) { return; }
  let adapt = fseg[3u * s + 2u] == 1;
  var scale = 1.0;
  var wd = select(0.0, fp.weightDecay, adapt);
  if (fp.kind == 1u && adapt) {  // LARS: the parts seg_partial summed (other kinds bind none)
    let split = fp.split;
    var sums = vec2f(0.0);
    for (var c = 0u; c < split; c++) { sums += fpart[s * split + c]; }
    let w = sqrt(sums.x);
    let g = sqrt(sums.y);
    if (w != 0.0 && g != 0.0) {
      scale = fp.eta * w / (g + w * fp.weightDecay + fp.eps);
      if (fp.clipLr != 0u) { scale = min(scale / fhyper[0], 1.0); }
    } else { wd = 0.0; }
  }
  fscale[s] = vec2f(scale, wd);
}

@group(0) @binding(0) var<storage, read_write> uw: array<f32>;
@group(0) @binding(1) var<storage, read> ug: array<f32>;
@group(0) @binding(2) var<storage, read_write> um: array<f32>;
@group(0) @binding(3) var<storage, read_write> uv: array<f32>;
@group(0) @binding(4) var<storage, read> useg: array<i32>;
@group(0) @binding(5) var<storage, read> uscale: array<vec2f>;
@group(0) @binding(6) var<storage, read> uhyper: array<f32>;
@group(0) @binding(7) var<uniform> up: OptParams;

@compute @workgroup_size(256)
fn opt_update(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= up.n || up.S == 0u) { return; }
  // Last segment whose offset is <= i.
  var lo = 0u;
  var hi = up.S;
  while (hi - lo > 1u) {
    let mid = (lo + hi) / 2u;
    if (u32(useg[3u * mid]) <= i) { lo = mid; } else { hi = mid; }
  }
  let off = u32(useg[3u * lo]);
  if (i < off || i >= off + u32(useg[3u * lo + 1u])) { return; } // padding between tensors
  let sc = uscale[lo];
  let g = ug[i];
  let lr = uhyper[0];
  if (up.kind == 2u) {
    let m = up.beta1 * um[i] + (1.0 - up.beta1) * g;
    let v = up.beta2 * uv[i] + (1.0 - up.beta2) * g * g;
    um[i] = m;
    uv[i] = v;
    uw[i] -= lr * ((m / uhyper[1]) / (sqrt(v / uhyper[2]) + up.eps) + sc.y * uw[i]);
  } else {
    let d = (g + sc.y * uw[i]) * sc.x;
    let m = up.momentum * um[i] + d;
    um[i] = m;
    uw[i] -= lr * m;
  }
}
