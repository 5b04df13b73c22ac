// Separable Gaussian blur of augmented views (torchvision GaussianBlur: `ksize` taps, weights
// exp(-t²/2σ²) normalised, reflect padding), run only when some image of the batch is blurred.
// blur_h: dst = horizontal pass of src. blur_v: vertical pass, then solarize and normalise
// (finish = 1), the tail kernels/augment.wgsl skipped. σ = 0 in a row passes the image through.
// Images are f32 [batch, size, size, 3]; parameter rows as in src/data/augment_params.ts.

struct U {
  size: u32, batch: u32, ksize: u32, finish: u32,
  mean: vec4f,
  stdv: vec4f,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read> prm: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<uniform> u: U;

const STRIDE: u32 = 16u;

fn reflect_idx(i: i32, n: i32) -> i32 {
  if (i < 0) { return -i; }
  if (i >= n) { return 2 * (n - 1) - i; }
  return i;
}

fn load3(i: u32) -> vec3f { return vec3f(src[3u * i], src[3u * i + 1u], src[3u * i + 2u]); }

fn blur(gid: vec3u, nwg: vec3u, horizontal: bool) {
  let i = gid.x + gid.y * nwg.x * 256u;
  let S = u.size;
  let npix = S * S;
  if (i >= u.batch * npix) { return; }
  let b = i / npix;
  let p = i % npix;
  let y = i32(p / S);
  let x = i32(p % S);
  let sigma = prm[b * STRIDE + 12u];
  var c: vec3f;
  if (sigma > 0.0) {
    let half = i32(u.ksize / 2u);
    var acc = vec3f(0.0);
    var ws = 0.0;
    for (var t = -half; t <= half; t++) {
      let d = f32(t) / sigma;
      let w = exp(-0.5 * d * d);
      ws += w;
      var q: u32;
      if (horizontal) { q = b * npix + u32(y) * S + u32(reflect_idx(x + t, i32(S))); }
      else { q = b * npix + u32(reflect_idx(y + t, i32(S))) * S + u32(x); }
      acc += w * load3(q);
    }
    c = acc / ws;
  } else {
    c = load3(i);
  }
  if (u.finish != 0u) {
    if (prm[b * STRIDE + 13u] != 0.0) { c = select(c, 1.0 - c, c >= vec3f(0.5)); }
    c = (c - u.mean.xyz) / u.stdv.xyz;
  }
  dst[3u * i] = c.r; dst[3u * i + 1u] = c.g; dst[3u * i + 2u] = c.b;
}

@compute @workgroup_size(256)
fn blur_h(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) { blur(gid, nwg, true); }

@compute @workgroup_size(256)
fn blur_v(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) { blur(gid, nwg, false); }
