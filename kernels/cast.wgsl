// dtype conversion through raw 32-bit words. SRC/DST: 0 = f32, 1 = i32, 2 = u8.
// u8 tensors are stored packed, 4 per u32 word, little-endian (byte k of element i is element
// 4·word + k), which is exactly a Uint8Array's bytes: upload/download are plain copies.
// Float→int truncates toward zero; to-u8 keeps the low 8 bits, as a Uint8Array store does.

struct Params { n: u32, _p0: u32, _p1: u32, _p2: u32 }

override SRC: u32 = 0u;
override DST: u32 = 0u;

@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

fn load_f32(i: u32) -> f32 {
  switch SRC {
    case 0u: { return bitcast<f32>(x[i]); }
    case 1u: { return f32(bitcast<i32>(x[i])); }
    default: { return f32((x[i / 4u] >> (8u * (i % 4u))) & 0xffu); }
  }
}

fn load_i32(i: u32) -> i32 {
  switch SRC {
    case 0u: { return i32(bitcast<f32>(x[i])); }
    case 1u: { return bitcast<i32>(x[i]); }
    default: { return i32((x[i / 4u] >> (8u * (i % 4u))) & 0xffu); }
  }
}

// One thread per element, f32 or i32 output.
@compute @workgroup_size(256)
fn cast_elem(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= params.n) { return; }
  if (DST == 0u) { y[i] = bitcast<u32>(load_f32(i)); } else { y[i] = bitcast<u32>(load_i32(i)); }
}

// One thread per output word (4 u8 elements).
@compute @workgroup_size(256)
fn cast_to_u8(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let w = gid.x + gid.y * nwg.x * 256u;
  if (w * 4u >= params.n) { return; }
  var word = 0u;
  for (var k = 0u; k < 4u; k++) {
    let i = w * 4u + k;
    if (i < params.n) { word |= (bitcast<u32>(load_i32(i)) & 0xffu) << (8u * k); }
  }
  y[w] = word;
}
