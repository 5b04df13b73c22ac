// Fill a buffer with one 32-bit word: f32/i32 constants, zeroing, and u8 (byte replicated x4).
// Grid is 2-D when the word count exceeds 65535 workgroups (see runtime grid()).

struct Params { n: u32, value: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@group(0) @binding(1) var<uniform> params: Params;

@compute @workgroup_size(256)
fn fill_u32(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i < params.n) { out[i] = params.value; }
}
