// Data movement on 32-bit elements (f32 and i32 alike): a strided copy that implements permute,
// slice, pad, concat and copyInto; gather along an axis; and its deterministic gradient.

struct CopyParams {
  n: u32, rank: u32, srcOffset: u32, dstOffset: u32,
  shape: array<vec4u, 2>,
  srcStride: array<vec4u, 2>,
  dstStride: array<vec4u, 2>,
}

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<uniform> cp: CopyParams;

// Element i of the iteration shape: dst[dstOffset + c·dstStride] = src[srcOffset + c·srcStride],
// c the coordinates of i in `shape`.
@compute @workgroup_size(256)
fn copy_strided(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= cp.n) { return; }
  var rem = i;
  var s = cp.srcOffset;
  var d = cp.dstOffset;
  for (var k = i32(cp.rank) - 1; k >= 0; k--) {
    let q = u32(k) / 4u;
    let r = u32(k) % 4u;
    let size = cp.shape[q][r];
    let c = rem % size;
    rem = rem / size;
    s += c * cp.srcStride[q][r];
    d += c * cp.dstStride[q][r];
  }
  dst[d] = src[s];
}

// x viewed as [pre, A, post], idx [J] → out [pre, J, post]. Out-of-range indices read 0 (the op
// layer validates indices it creates; a GPU kernel cannot throw).
struct GatherParams { pre: u32, A: u32, J: u32, post: u32 }

@group(0) @binding(0) var<storage, read> gx: array<u32>;
@group(0) @binding(1) var<storage, read> gidx: array<i32>;
@group(0) @binding(2) var<storage, read_write> gout: array<u32>;
@group(0) @binding(3) var<uniform> gp: GatherParams;

@compute @workgroup_size(256)
fn gather(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= gp.pre * gp.J * gp.post) { return; }
  let q = i % gp.post;
  let j = (i / gp.post) % gp.J;
  let p = i / (gp.post * gp.J);
  let a = gidx[j];
  if (a < 0 || u32(a) >= gp.A) { gout[i] = 0u; return; }
  gout[i] = gx[(p * gp.A + u32(a)) * gp.post + q];
}

// Gradient of gather: dy [pre, J, post] → out [pre, A, post], out[p,a,q] = Σ_{j: idx[j]=a} dy[p,j,q].
// One thread per output element looping over the index list, in index order: deterministic,
// no float atomics. (J is a mask's position count, small next to the output.)
@group(0) @binding(0) var<storage, read> sdy: array<f32>;
@group(0) @binding(1) var<storage, read> sidx: array<i32>;
@group(0) @binding(2) var<storage, read_write> sout: array<f32>;
@group(0) @binding(3) var<uniform> sp: GatherParams;

@compute @workgroup_size(256)
fn scatter_add(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= sp.pre * sp.A * sp.post) { return; }
  let q = i % sp.post;
  let a = i32((i / sp.post) % sp.A);
  let p = i / (sp.post * sp.A);
  var acc = 0.0;
  for (var j = 0u; j < sp.J; j++) {
    if (sidx[j] == a) { acc += sdy[(p * sp.J + j) * sp.post + q]; }
  }
  sout[i] = acc;
}
