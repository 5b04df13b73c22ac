// Element types. f32 is the training type; f64 exists on the CPU backend for gradient checks;
// i32 holds labels and indices; u8 holds prepared images.
export type DType = 'f32' | 'f64' | 'i32' | 'u8';
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;
export type FloatDType = 'f32' | 'f64';

export function bytesPer(dtype: DType): number {
  switch (dtype) {
    case 'f64': return 8;
    case 'f32': case 'i32': return 4;
    case 'u8': return 1;
  }
}

export function allocArray(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case 'f32': return new Float32Array(size);
    case 'f64': return new Float64Array(size);
    case 'i32': return new Int32Array(size);
    case 'u8': return new Uint8Array(size);
  }
}

export function dtypeOfArray(a: TypedArray): DType {
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Float64Array) return 'f64';
  if (a instanceof Int32Array) return 'i32';
  return 'u8';
}

export function isFloat(dtype: DType): dtype is FloatDType {
  return dtype === 'f32' || dtype === 'f64';
}
