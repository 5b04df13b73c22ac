// How each storage binding of a kernel is declared, read from its WGSL. WebGPU validates a
// dispatch's use of each buffer as a whole: a buffer bound writable (`var<storage, read_write>`)
// may not also be bound read-only (`var<storage, read>`, or a uniform) in the same dispatch, while
// several read-only bindings, or several writable ones, may share it. The step memory plan
// (memory_plan.ts) puts regions of the same tensors-sized buffers under tensors that are never
// bound against each other that way.

/** How a storage binding is declared: read-only, read_write, or not known (either). */
export const READ_ACCESS = 1, WRITE_ACCESS = 2, ANY_ACCESS = READ_ACCESS | WRITE_ACCESS;

/** Bindings declared with these accesses may not share a buffer in one dispatch: one reads only, the other writes. */
export function conflicting(a: number, b: number): boolean {
  return ((a & READ_ACCESS) !== 0 && (b & WRITE_ACCESS) !== 0) || ((a & WRITE_ACCESS) !== 0 && (b & READ_ACCESS) !== 0);
}

/**
 * Each storage binding's access as the shader declares it (`var<storage, read_write>` or
 * `var<storage[, read]>` at @group(0) @binding(i)), by binding index. A binding declared both
 * ways (variables of different entry points) or not found counts as either.
 */
export function bindingAccess(code: string): number[] {
  const out: number[] = [];
  const re = /@group\(\s*0\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var\s*<\s*(storage|uniform)\s*(?:,\s*(read_write|read)\s*)?>/g;
  for (let m = re.exec(code); m; m = re.exec(code)) {
    const i = Number(m[1]);
    const mode = m[2] === 'uniform' || m[3] !== 'read_write' ? READ_ACCESS : WRITE_ACCESS;
    out[i] = out[i] === undefined ? mode : out[i] | mode;
  }
  for (let i = 0; i < out.length; i++) out[i] ??= ANY_ACCESS;
  return out;
}
