// Re-lays OIHW convolution weights for the implicit GEMMs (one thread per element):
//   to_ohwi: [Co, kh·kw, Cin]  (forward: B's 4-runs along (tap, ci))
//   to_hwoi: [kh·kw, Co, Cin]  (backward-data: B's 4-runs along ci)
//   from_ohwi: the inverse of to_ohwi (a weight gradient computed as [Co, kh·kw·Cin] → OIHW)
//   to_hwoi_permuted: [kh·kw, Co, Cin] with the taps in the order perm gives (strided
//     backward-data: phase-major, each phase class's taps contiguous)

struct Params { Co: u32, C: u32, KK: u32, _pad0: u32 }

@group(0) @binding(0) var<storage, read> w: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

fn index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 { return (wid.y * nwg.x + wid.x) * 256u + lid; }

@compute @workgroup_size(256)
fn to_ohwi(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let e = index(wid, nwg, lid);  // e = (co·KK + tap)·C + ci
  if (e >= params.Co * params.C * params.KK) { return; }
  let ci = e % params.C;
  let t = e / params.C;
  let tap = t % params.KK;
  let co = t / params.KK;
  out[e] = w[(co * params.C + ci) * params.KK + tap];
}

@compute @workgroup_size(256)
fn to_hwoi(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
  let e = index(wid, nwg, lid);  // e = (tap·Co + co)·C + ci
  if (e >= params.Co * params.C * params.KK) { return; }
  let ci = e % params.C;
  let t = e / params.C;
  let co = t % params.Co;
  let tap = t / params.Co;
  out[e] = w[(co * params.C + ci) * params.KK + tap];
}

@compute @workgroup_size(256)
fn from_ohwi(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
  let e = index(wid, nwg, lid);  // e = (co·KK + tap)·C + ci in w (the OHWI input)
  if (e >= params.Co * params.C * params.KK) { return; }
  let ci = e % params.C;
  let t = e / params.C;
  let tap = t % params.KK;
  let co = t / params.KK;
  out[(co * params.C + ci) * params.KK + tap] = w[e];
}

// The permuted variant's own uniform block (the same binding; no entry point uses both):
// perm[t] = the OIHW tap (kh·KW + kw) that goes to position t, 4 per vec4, at most 64 taps.
struct PermParams { Co: u32, C: u32, KK: u32, _pad0: u32, perm: array<vec4<u32>, 16> }
@group(0) @binding(2) var<uniform> pparams: PermParams;

@compute @workgroup_size(256)
fn to_hwoi_permuted(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                    @builtin(local_invocation_index) lid: u32) {
  let e = index(wid, nwg, lid);  // e = (t·Co + co)·C + ci
  if (e >= pparams.Co * pparams.C * pparams.KK) { return; }
  let ci = e % pparams.C;
  let t = e / pparams.C;
  let co = t % pparams.Co;
  let pos = t / pparams.Co;
  let tap = pparams.perm[pos / 4u][pos % 4u];
  out[e] = w[(co * pparams.C + ci) * pparams.KK + tap];
}
