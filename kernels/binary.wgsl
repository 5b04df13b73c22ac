// a (op) b with NumPy broadcasting, rank <= 8 (after the wrapper merges contiguous dims).
// Broadcast dims have stride 0. BCAST = false is the same-shape fast path (no index math).
// Comparisons give 1/0 in a's dtype. Op codes: see src/backend/webgpu/ops/elementwise.ts.

struct Params {
  n: u32, rank: u32, _p0: u32, _p1: u32,
  shape: array<vec4u, 2>,
  aStride: array<vec4u, 2>,
  bStride: array<vec4u, 2>,
}

override OP: u32 = 0u;
override BCAST: bool = true;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@group(0) @binding(0) var<storage, read> ai: array<i32>;
@group(0) @binding(1) var<storage, read> bi: array<i32>;
@group(0) @binding(2) var<storage, read_write> outi: array<i32>;

/** Element offsets into a and b of output element i. */
fn offsets(i: u32) -> vec2u {
  if (!BCAST) { return vec2u(i, i); }
  var rem = i;
  var oa = 0u;
  var ob = 0u;
  for (var d = i32(params.rank) - 1; d >= 0; d--) {
    let q = u32(d) / 4u;
    let r = u32(d) % 4u;
    let size = params.shape[q][r];
    let c = rem % size;
    rem = rem / size;
    oa += c * params.aStride[q][r];
    ob += c * params.bStride[q][r];
  }
  return vec2u(oa, ob);
}

fn op_f(x: f32, y: f32) -> f32 {
  switch OP {
    case 0u: { return x + y; }
    case 1u: { return x - y; }
    case 2u: { return x * y; }
    case 3u: { return x / y; }
    case 4u: { return max(x, y); }
    case 5u: { return min(x, y); }
    case 6u: { return select(0.0, 1.0, x > y); }
    case 7u: { return select(0.0, 1.0, x == y); }
    default: { return x; }
  }
}

fn op_i(x: i32, y: i32) -> i32 {
  switch OP {
    case 0u: { return x + y; }
    case 1u: { return x - y; }
    case 2u: { return x * y; }
    case 3u: { return select(0, x / y, y != 0); }
    case 4u: { return max(x, y); }
    case 5u: { return min(x, y); }
    case 6u: { return select(0, 1, x > y); }
    case 7u: { return select(0, 1, x == y); }
    default: { return x; }
  }
}

@compute @workgroup_size(256)
fn binary_f32(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
  let o = offsets(i);
  out[i] = op_f(a[o.x], b[o.y]);
}

@compute @workgroup_size(256)
fn binary_i32(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
  let o = offsets(i);
  outi[i] = op_i(ai[o.x], bi[o.y]);
}
