// Data augmentation, fused: crop + resize (PIL-style antialiased bilinear/bicubic) + flip +
// colour jitter in the per-image order + grayscale (+ solarize + normalise when no image of the
// batch needs blur; otherwise kernels/augment_blur.wgsl finishes). CPU reference and the exact
// semantics: src/data/augment_cpu.ts. Parameter row layout: src/data/augment_params.ts (P).
//
// One workgroup per output image: contrast blends with the image's mean grey level (at its place
// in the jitter order), a per-image reduction. Phase 1 resamples every pixel, stores it in dst
// and sums the grey level of the pre-contrast state; phase 2 re-reads dst (each invocation only
// its own pixels, so no storage barrier is needed) and applies the colour chain with the mean.
//
// Source images are u8 NHWC packed 4 per u32 (byte k of word w is element 4w + k).

struct U {
  N: u32, H: u32, W: u32, C: u32,
  size: u32, batch: u32, bicubic: u32, finish: u32,
  mean: vec4f,
  stdv: vec4f,
}

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read> idx: array<i32>;
@group(0) @binding(2) var<storage, read> prm: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
@group(0) @binding(4) var<uniform> u: U;

const WG: u32 = 256u;
const STRIDE: u32 = 16u;
const LUMA = vec3f(0.2989, 0.587, 0.114);

var<workgroup> red: array<f32, 256>;

// PIL's filters: bicubic a = -0.5 (support 2), bilinear triangle (support 1).
fn filt(x: f32) -> f32 {
  let a = abs(x);
  if (u.bicubic != 0u) {
    if (a < 1.0) { return (1.5 * a - 2.5) * a * a + 1.0; }
    if (a < 2.0) { return (((a - 5.0) * a + 8.0) * a - 4.0) * -0.5; }
    return 0.0;
  }
  return max(1.0 - a, 0.0);
}

fn byte_at(i: u32) -> f32 {
  return f32((src[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu);
}

fn texel(base: u32, y: i32, x: i32) -> vec3f {
  let p = base + (u32(y) * u.W + u32(x)) * u.C;
  if (u.C == 1u) { return vec3f(byte_at(p)); }
  return vec3f(byte_at(p), byte_at(p + 1u), byte_at(p + 2u));
}

struct Axis { lo: i32, hi: i32, center: f32, ss: f32, wsum: f32 }

// PIL precompute_coeffs for one output coordinate: window around the centre, clipped, and the
// sum of its weights (the normaliser).
fn axis(start: f32, extent: f32, o: u32, clip_lo: i32, clip_hi: i32) -> Axis {
  let scale = extent / f32(u.size);
  let fscale = max(scale, 1.0);
  let sup = select(1.0, 2.0, u.bicubic != 0u) * fscale;
  let center = start + (f32(o) + 0.5) * scale;
  let lo = max(i32(floor(center - sup + 0.5)), clip_lo);
  let hi = min(i32(floor(center + sup + 0.5)), clip_hi);
  let ss = 1.0 / fscale;
  var ws = 0.0;
  for (var k = lo; k < hi; k++) { ws += filt((f32(k) - center + 0.5) * ss); }
  return Axis(lo, hi, center, ss, ws);
}

fn resample(base: u32, r: u32, oy: u32, ox: u32) -> vec3f {
  let top = prm[r + 0u];
  let left = prm[r + 1u];
  let h = prm[r + 2u];
  let w = prm[r + 3u];
  var cy0 = 0; var cy1 = i32(u.H); var cx0 = 0; var cx1 = i32(u.W);
  if (prm[r + 14u] != 0.0) {
    cy0 = i32(top); cy1 = i32(top + h); cx0 = i32(left); cx1 = i32(left + w);
  }
  let ay = axis(top, h, oy, cy0, cy1);
  let ax = axis(left, w, ox, cx0, cx1);
  var acc = vec3f(0.0);
  for (var y = ay.lo; y < ay.hi; y++) {
    let wy = filt((f32(y) - ay.center + 0.5) * ay.ss);
    var racc = vec3f(0.0);
    for (var x = ax.lo; x < ax.hi; x++) {
      racc += filt((f32(x) - ax.center + 0.5) * ax.ss) * texel(base, y, x);
    }
    acc += wy * racc;
  }
  return clamp(acc / (ay.wsum * ax.wsum * 255.0), vec3f(0.0), vec3f(1.0));
}

// torchvision adjust_hue (float path): rgb -> hsv, shift, hsv -> rgb.
fn hue_shift(c: vec3f, hf: f32) -> vec3f {
  let maxc = max(c.r, max(c.g, c.b));
  let minc = min(c.r, min(c.g, c.b));
  let eqc = maxc == minc;
  let cr = maxc - minc;
  let s = cr / select(maxc, 1.0, eqc);
  let dv = select(cr, 1.0, eqc);
  let rc = (maxc - c.r) / dv;
  let gc = (maxc - c.g) / dv;
  let bc = (maxc - c.b) / dv;
  var h: f32;
  if (maxc == c.r) { h = bc - gc; } else if (maxc == c.g) { h = 2.0 + rc - bc; } else { h = 4.0 + gc - rc; }
  h = fract(h / 6.0 + 1.0);
  h = fract(h + hf);
  let v = maxc;
  let i6 = floor(h * 6.0);
  let f = h * 6.0 - i6;
  let p = clamp(v * (1.0 - s), 0.0, 1.0);
  let q = clamp(v * (1.0 - s * f), 0.0, 1.0);
  let t = clamp(v * (1.0 - s * (1.0 - f)), 0.0, 1.0);
  switch (u32(i6) % 6u) {
    case 0u: { return vec3f(v, t, p); }
    case 1u: { return vec3f(q, v, p); }
    case 2u: { return vec3f(p, v, t); }
    case 3u: { return vec3f(p, q, v); }
    case 4u: { return vec3f(t, p, v); }
    default: { return vec3f(v, p, q); }
  }
}

// One jitter op: 0 brightness, 1 contrast (with the image mean), 2 saturation, 3 hue.
fn jitter_op(op: u32, c: vec3f, r: u32, mean: f32) -> vec3f {
  switch (op) {
    case 0u: { return clamp(prm[r + 6u] * c, vec3f(0.0), vec3f(1.0)); }
    case 1u: {
      let f = prm[r + 7u];
      return clamp(f * c + (1.0 - f) * mean, vec3f(0.0), vec3f(1.0));
    }
    case 2u: {
      let f = prm[r + 8u];
      return clamp(f * c + (1.0 - f) * dot(c, LUMA), vec3f(0.0), vec3f(1.0));
    }
    default: {
      let hf = prm[r + 9u];
      if (hf == 0.0) { return c; }
      return hue_shift(c, hf);
    }
  }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.x;
  let valid = b < u.batch;
  let S = u.size;
  let npix = S * S;
  let r = b * STRIDE;
  var partial = 0.0;
  var jitter = false;
  var order = 0u;
  if (valid) {
    let base = u32(idx[b]) * u.H * u.W * u.C;
    let flip = prm[r + 4u] != 0.0;
    jitter = prm[r + 5u] != 0.0;
    order = u32(prm[r + 10u]);
    for (var p = lid; p < npix; p += WG) {
      let oy = p / S;
      var ox = p % S;
      if (flip) { ox = S - 1u - ox; }
      var c = resample(base, r, oy, ox);
      let o = (b * npix + p) * 3u;
      dst[o] = c.r; dst[o + 1u] = c.g; dst[o + 2u] = c.b;
      if (jitter) {
        for (var k = 0u; k < 4u; k++) {
          let op = (order >> (2u * k)) & 3u;
          if (op == 1u) { break; }
          c = jitter_op(op, c, r, 0.0);
        }
        partial += dot(c, LUMA);
      }
    }
  }
  red[lid] = partial;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let mean = red[0] / f32(npix);
  if (!valid) { return; }
  let gray = prm[r + 11u] != 0.0;
  let sol = prm[r + 13u] != 0.0;
  for (var p = lid; p < npix; p += WG) {
    let o = (b * npix + p) * 3u;
    var c = vec3f(dst[o], dst[o + 1u], dst[o + 2u]);
    if (jitter) {
      for (var k = 0u; k < 4u; k++) { c = jitter_op((order >> (2u * k)) & 3u, c, r, mean); }
    }
    if (gray) { c = vec3f(dot(c, LUMA)); }
    if (u.finish != 0u) {
      if (sol) { c = select(c, 1.0 - c, c >= vec3f(0.5)); }
      c = (c - u.mean.xyz) / u.stdv.xyz;
    }
    dst[o] = c.r; dst[o + 1u] = c.g; dst[o + 2u] = c.b;
  }
}
