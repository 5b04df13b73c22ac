// Whole-model training updates on flat buffers: EMA (target network) and the fused optimiser
// step (SGD / LARS / AdamW), rules as in src/backend/cpu/optim.ts.
// The optimiser runs in two passes: seg_scale (one workgroup per tensor segment) computes each
// segment's (lr scale, effective weight decay) — LARS needs ‖w‖ and ‖g‖ — and opt_update (one
// thread per element) finds its segment by binary search (segments sorted by offset) and updates.

struct EmaParams { n: u32, tau: f32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<storage, read_write> ema_t: array<f32>;
@group(0) @binding(1) var<storage, read> ema_s: array<f32>;
@group(0) @binding(2) var<uniform> ep: EmaParams;

@compute @workgroup_size(256)
fn ema(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i < ep.n) { ema_t[i] = ep.tau * ema_t[i] + (1.0 - ep.tau) * ema_s[i]; }
}

// kind: 0 sgd, 1 lars, 2 adamw (a uniform: barrier pipelines compile slowly on lavapipe).

struct OptParams {
  n: u32, S: u32, clipLr: u32, kind: u32,
  lr: f32, weightDecay: f32, momentum: f32, eta: f32,
  eps: f32, beta1: f32, beta2: f32, bc1: f32,
  bc2: f32, _p1: u32, _p2: u32, _p3: u32,
}

@group(0) @binding(0) var<storage, read> sw: array<f32>;
@group(0) @binding(1) var<storage, read> sg: array<f32>;
@group(0) @binding(2) var<storage, read> sseg: array<i32>;
@group(0) @binding(3) var<storage, read_write> sscale: array<vec2f>;
@group(0) @binding(4) var<uniform> sp: OptParams;

var<workgroup> wsum: array<f32, 256>;
var<workgroup> gsum: array<f32, 256>;

@compute @workgroup_size(256)
fn seg_scale(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let s = wid.x;
  let off = u32(sseg[3u * s]);
  let n = u32(sseg[3u * s + 1u]);
  let adapt = sseg[3u * s + 2u] == 1;
  var wn = 0.0;
  var gn = 0.0;
  if (sp.kind == 1u && adapt) {
    for (var i = t; i < n; i += 256u) {
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
  if (t != 0u) { return; }
  var scale = 1.0;
  var wd = select(0.0, sp.weightDecay, adapt);
  if (sp.kind == 1u && adapt) {
    let w = sqrt(wsum[0]);
    let g = sqrt(gsum[0]);
    if (w != 0.0 && g != 0.0) {
      scale = sp.eta * w / (g + w * sp.weightDecay + sp.eps);
      if (sp.clipLr != 0u) { scale = min(scale / sp.lr, 1.0); }
    } else { wd = 0.0; }
  }
  sscale[s] = vec2f(scale, wd);
}

@group(0) @binding(0) var<storage, read_write> uw: array<f32>;
@group(0) @binding(1) var<storage, read> ug: array<f32>;
@group(0) @binding(2) var<storage, read_write> um: array<f32>;
@group(0) @binding(3) var<storage, read_write> uv: array<f32>;
@group(0) @binding(4) var<storage, read> useg: array<i32>;
@group(0) @binding(5) var<storage, read> uscale: array<vec2f>;
@group(0) @binding(6) var<uniform> up: OptParams;

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
  if (up.kind == 2u) {
    let m = up.beta1 * um[i] + (1.0 - up.beta1) * g;
    let v = up.beta2 * uv[i] + (1.0 - up.beta2) * g * g;
    um[i] = m;
    uv[i] = v;
    uw[i] -= up.lr * ((m / up.bc1) / (sqrt(v / up.bc2) + up.eps) + sc.y * uw[i]);
  } else {
    let d = (g + sc.y * uw[i]) * sc.x;
    let m = up.momentum * um[i] + d;
    um[i] = m;
    uw[i] -= up.lr * m;
  }
}
