// Same-shape elementwise kernels: unary ops, activation gradients, tensor-scalar ops.
// OP is an override constant, so each op compiles to its own pipeline with the switch folded
// away; the op codes are listed in src/backend/webgpu/ops/elementwise.ts. One thread per
// element, 2-D grid past 65535 workgroups.

struct Params { n: u32, _p0: u32, s: f32, _p1: u32 }

override OP: u32 = 0u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@group(0) @binding(0) var<storage, read> xi: array<i32>;
@group(0) @binding(1) var<storage, read_write> yi: array<i32>;

@group(0) @binding(0) var<storage, read> gx: array<f32>;
@group(0) @binding(1) var<storage, read> gdy: array<f32>;
@group(0) @binding(2) var<storage, read_write> gdx: array<f32>;
@group(0) @binding(3) var<uniform> gparams: Params;

const SQRT1_2: f32 = 0.70710678118654752;
const INV_SQRT_2PI: f32 = 0.39894228040143268;

// erfc with < 1.2e-7 relative error everywhere (Numerical Recipes' erfcc): relative accuracy
// in the tails matters for exact GELU at large negative inputs.
fn erfc_pos(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  let p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
          t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return t * exp(-z * z + p);
}
fn erfc_f(z: f32) -> f32 { return select(2.0 - erfc_pos(-z), erfc_pos(z), z >= 0.0); }
/** Standard normal CDF. */
fn phi(x: f32) -> f32 { return 0.5 * erfc_f(-x * SQRT1_2); }
fn tanh_safe(x: f32) -> f32 { return tanh(clamp(x, -15.0, 15.0)); }
fn sigmoid(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }

fn unary_f(v: f32) -> f32 {
  switch OP {
    case 0u: { return -v; }
    case 1u: { return exp(v); }
    case 2u: { return log(v); }
    case 3u: { return sqrt(v); }
    case 4u: { return inverseSqrt(v); }
    case 5u: { return abs(v); }
    case 6u: { return v * v; }
    case 7u: { return 1.0 / v; }
    case 8u: { return max(v, 0.0); }
    case 9u: { return v * phi(v); }
    case 10u: { return sigmoid(v); }
    case 11u: { return tanh_safe(v); }
    case 12u: { return sign(v); }
    default: { return v; }
  }
}

fn unary_i(v: i32) -> i32 {
  switch OP {
    case 0u: { return -v; }
    case 5u: { return abs(v); }
    case 6u: { return v * v; }
    case 8u: { return max(v, 0); }
    case 12u: { return sign(v); }
    default: { return v; }
  }
}

// x^s with the sign rules of Math.pow for integral s (WGSL pow is undefined for x < 0).
fn pow_f(v: f32, s: f32) -> f32 {
  if (s == 0.0) { return 1.0; }
  if (s == 1.0) { return v; }
  if (s == 2.0) { return v * v; }
  let r = pow(abs(v), s);
  if (v >= 0.0) { return r; }
  // NaN as Math.pow(-2, 0.5); built at run time (a constant NaN is a WGSL compile error)
  if (round(s) != s) { return bitcast<f32>(0x7fc00000u | (bitcast<u32>(s) & 0u)); }
  return select(r, -r, (s * 0.5) != round(s * 0.5));
}

fn scalar_f(v: f32, s: f32) -> f32 {
  switch OP {
    case 0u: { return v + s; }
    case 1u: { return v * s; }
    case 2u: { return s - v; }
    case 3u: { return s / v; }
    case 4u: { return pow_f(v, s); }
    case 5u: { return max(v, s); }
    case 6u: { return min(v, s); }
    default: { return v; }
  }
}

fn index(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

@compute @workgroup_size(256)
fn unary_f32(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < params.n) { y[i] = unary_f(x[i]); }
}

@compute @workgroup_size(256)
fn unary_i32(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < params.n) { yi[i] = unary_i(xi[i]); }
}

@compute @workgroup_size(256)
fn scalar_f32(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < params.n) { y[i] = scalar_f(x[i], params.s); }
}

// i32 tensor-scalar ops compute in f32 and truncate, as the CPU backend's Int32Array store.
@compute @workgroup_size(256)
fn scalar_i32(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i < params.n) { yi[i] = i32(trunc(scalar_f(f32(xi[i]), params.s))); }
}

// dx = f'(x) * dy for the activations (OP uses the unary codes: 8 relu, 9 gelu, 10 sigmoid, 11 tanh).
@compute @workgroup_size(256)
fn unary_grad(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = index(gid, nwg);
  if (i >= gparams.n) { return; }
  let v = gx[i];
  var d: f32;
  switch OP {
    case 8u: { d = select(0.0, 1.0, v > 0.0); }
    case 9u: { d = phi(v) + v * INV_SQRT_2PI * exp(-0.5 * v * v); }
    case 10u: { let s = sigmoid(v); d = s * (1.0 - s); }
    case 11u: { let t = tanh_safe(v); d = 1.0 - t * t; }
    default: { d = 1.0; }
  }
  gdx[i] = d * gdy[i];
}
