// The .safetensors checkpoint format (https://github.com/huggingface/safetensors), so weights
// move between coengine and PyTorch: 8-byte little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}} padded
// with spaces to an 8-byte boundary, then the tensors' bytes, contiguous, with no holes.
// Conv weights are OIHW in both libraries, so names and shapes match torchvision's.
import { promises as fs } from 'node:fs';
import { endianness } from 'node:os';
import * as path from 'node:path';
import type { Module } from '../nn/module.js';
import { tensor } from '../ops/creation.js';
import { Tensor } from '../tensor.js';
import type { DType, TypedArray } from '../runtime/dtype.js';
import { fmtShape } from '../runtime/errors.js';

export type SafeDType = 'F32' | 'F64' | 'I64' | 'I32' | 'U8';
export type SafeArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  data: SafeArray;
}

export interface HeaderEntry { dtype: SafeDType; shape: number[]; data_offsets: [number, number] }

export interface ParsedHeader {
  /** Bytes of JSON (including padding) after the 8-byte length. */
  headerLength: number;
  /** Offset of the first tensor byte in the file. */
  dataStart: number;
  entries: Map<string, HeaderEntry>;
  metadata: Record<string, string>;
}

const BYTES: Record<SafeDType, number> = { F32: 4, F64: 8, I64: 8, I32: 4, U8: 1 };
/** The reference implementation refuses headers above 100 MB (protects against hostile files). */
const MAX_HEADER = 100_000_000;

function assertLittleEndian(): void {
  if (endianness() !== 'LE') throw new Error('safetensors: this implementation needs a little-endian host');
}

export class SafetensorsError extends Error { override name = 'SafetensorsError'; }

function arrayDType(a: SafeArray): SafeDType {
  if (a instanceof Float32Array) return 'F32';
  if (a instanceof Float64Array) return 'F64';
  if (a instanceof BigInt64Array) return 'I64';
  if (a instanceof Int32Array) return 'I32';
  return 'U8';
}

/** Serialise tensors (in the given order) and string metadata into one buffer. */
export function encodeSafetensors(tensors: Map<string, SafeTensor>, metadata: Record<string, string> = {}): Uint8Array {
  assertLittleEndian();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new SafetensorsError(`metadata '${k}' must be a string, got ${typeof v}`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__') throw new SafetensorsError(`'__metadata__' is reserved and cannot name a tensor`);
    const n = t.shape.reduce((a, d) => a * d, 1);
    if (arrayDType(t.data) !== t.dtype) throw new SafetensorsError(`${name}: data is ${t.data.constructor.name} but dtype says ${t.dtype}`);
    if (t.data.length !== n) throw new SafetensorsError(`${name}: ${t.data.length} values for shape ${fmtShape(t.shape)}`);
    const bytes = n * BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let pos = 8 + padded;
  for (const t of tensors.values()) {
    const src = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    out.set(src, pos);
    pos += src.length;
  }
  return out;
}

/**
 * Check a file's header against the format's rules and return it parsed. Throws a
 * SafetensorsError naming the first violation: length beyond the file, header not JSON or not
 * starting with '{', unknown dtype, shape/byte-size mismatch, offsets out of range, overlapping,
 * or leaving holes, non-string metadata.
 */
export function validateHeader(bytes: Uint8Array): ParsedHeader {
  if (bytes.length < 8) throw new SafetensorsError(`file has ${bytes.length} bytes; the 8-byte header length is missing`);
  const n64 = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER)) throw new SafetensorsError(`header length ${n64} exceeds the ${MAX_HEADER}-byte limit`);
  const headerLength = Number(n64);
  if (8 + headerLength > bytes.length) throw new SafetensorsError(`header length ${headerLength} runs past the end of the ${bytes.length}-byte file`);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + 8, headerLength).toString('utf8');
  if (!text.startsWith('{')) throw new SafetensorsError(`header must start with '{', got ${JSON.stringify(text.slice(0, 10))}`);
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (e) { throw new SafetensorsError(`header is not valid JSON: ${(e as Error).message}`); }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new SafetensorsError('header must be a JSON object');
  const dataStart = 8 + headerLength;
  const dataBytes = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries = new Map<string, HeaderEntry>();
  for (const [name, v] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new SafetensorsError('__metadata__ must be an object of strings');
      for (const [k, s] of Object.entries(v as Record<string, unknown>)) {
        if (typeof s !== 'string') throw new SafetensorsError(`__metadata__.${k} must be a string, got ${JSON.stringify(s)}`);
        metadata[k] = s;
      }
      continue;
    }
    const e = v as Partial<HeaderEntry>;
    if (!e || typeof e !== 'object') throw new SafetensorsError(`${name}: entry must be an object`);
    if (typeof e.dtype !== 'string' || !(e.dtype in BYTES)) throw new SafetensorsError(`${name}: unsupported dtype ${JSON.stringify(e.dtype)} (supported: ${Object.keys(BYTES).join(', ')})`);
    if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isInteger(d) || d < 0)) throw new SafetensorsError(`${name}: shape must be a list of non-negative integers, got ${JSON.stringify(e.shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) || off[1] < off[0]) {
      throw new SafetensorsError(`${name}: data_offsets must be [begin, end] with 0 ≤ begin ≤ end, got ${JSON.stringify(off)}`);
    }
    const want = e.shape.reduce((a, d) => a * d, 1) * BYTES[e.dtype];
    if (off[1] - off[0] !== want) throw new SafetensorsError(`${name}: ${e.dtype} ${fmtShape(e.shape)} needs ${want} bytes but data_offsets ${JSON.stringify(off)} span ${off[1] - off[0]}`);
    if (off[1] > dataBytes) throw new SafetensorsError(`${name}: data_offsets ${JSON.stringify(off)} run past the ${dataBytes} data bytes`);
    entries.set(name, { dtype: e.dtype, shape: [...e.shape], data_offsets: [off[0], off[1]] });
  }
  // The byte buffer must be covered exactly, in some order, without overlaps or holes.
  const spans = [...entries].sort((a, b) => a[1].data_offsets[0] - b[1].data_offsets[0] || a[1].data_offsets[1] - b[1].data_offsets[1]);
  let at = 0;
  for (const [name, e] of spans) {
    if (e.data_offsets[0] !== at) {
      throw new SafetensorsError(`${name}: data starts at byte ${e.data_offsets[0]} but the previous tensor ended at ${at} (${e.data_offsets[0] > at ? 'hole' : 'overlap'})`);
    }
    at = e.data_offsets[1];
  }
  if (at !== dataBytes) throw new SafetensorsError(`tensors cover ${at} bytes but the file holds ${dataBytes} data bytes`);
  return { headerLength, dataStart, entries, metadata };
}

/** Parse a whole file's bytes. Tensor data is copied (views would need aligned offsets). */
export function decodeSafetensors(bytes: Uint8Array): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  assertLittleEndian();
  const h = validateHeader(bytes);
  const tensors = new Map<string, SafeTensor>();
  for (const [name, e] of h.entries) {
    const begin = bytes.byteOffset + h.dataStart + e.data_offsets[0];
    const buf = bytes.buffer.slice(begin, begin + e.data_offsets[1] - e.data_offsets[0]);
    tensors.set(name, { dtype: e.dtype, shape: e.shape, data: viewAs(e.dtype, buf as ArrayBuffer) });
  }
  return { tensors, metadata: h.metadata };
}

function viewAs(dtype: SafeDType, buf: ArrayBuffer): SafeArray {
  switch (dtype) {
    case 'F32': return new Float32Array(buf);
    case 'F64': return new Float64Array(buf);
    case 'I64': return new BigInt64Array(buf);
    case 'I32': return new Int32Array(buf);
    case 'U8': return new Uint8Array(buf);
  }
}

/** Write atomically: a temp file in the same directory, then rename over the target. */
export async function writeSafetensors(file: string, tensors: Map<string, SafeTensor>, metadata: Record<string, string> = {}): Promise<void> {
  const bytes = encodeSafetensors(tensors, metadata);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${Date.now()}`);
  try {
    await fs.writeFile(tmp, bytes);
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

export async function readSafetensors(file: string): Promise<{ tensors: Map<string, SafeTensor>; metadata: Record<string, string> }> {
  const bytes = await fs.readFile(file);
  try {
    return decodeSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    if (e instanceof SafetensorsError) throw new SafetensorsError(`${file}: ${e.message}`);
    throw e;
  }
}

// ---- modules ----

/** torch stores BN's step counter as int64; ours is i32 on the device. */
const isI64Counter = (name: string): boolean => name.endsWith('num_batches_tracked');

/** A tensor's data in its safetensors form. */
export async function toSafeTensor(name: string, t: Tensor): Promise<SafeTensor> {
  const data = await t.data();
  const shape = [...t.shape];
  switch (t.dtype) {
    case 'f32': return { dtype: 'F32', shape, data: Float32Array.from(data as Float32Array) };
    case 'f64': return { dtype: 'F64', shape, data: Float64Array.from(data as Float64Array) };
    case 'u8': return { dtype: 'U8', shape, data: Uint8Array.from(data as Uint8Array) };
    case 'i32':
      if (isI64Counter(name)) return { dtype: 'I64', shape, data: BigInt64Array.from(data as Int32Array, (v) => BigInt(v)) };
      return { dtype: 'I32', shape, data: Int32Array.from(data as Int32Array) };
  }
}

/** Convert file data to a module tensor's dtype (float ↔ float, integer ↔ integer). */
export function fromSafeTensor(name: string, t: SafeTensor, dtype: DType): TypedArray {
  const floatFile = t.dtype === 'F32' || t.dtype === 'F64';
  const floatMine = dtype === 'f32' || dtype === 'f64';
  if (floatFile !== floatMine) throw new SafetensorsError(`${name}: file holds ${t.dtype} but the module expects ${dtype}`);
  const n = t.data.length;
  const out: TypedArray = dtype === 'f32' ? new Float32Array(n) : dtype === 'f64' ? new Float64Array(n) : dtype === 'i32' ? new Int32Array(n) : new Uint8Array(n);
  if (t.data instanceof BigInt64Array) {
    for (let i = 0; i < n; i++) {
      const v = t.data[i];
      if (v > 2147483647n || v < -2147483648n) throw new SafetensorsError(`${name}: value ${v} does not fit ${dtype}`);
      out[i] = Number(v);
    }
  } else out.set(t.data as ArrayLike<number>);
  return out;
}

/** Save parameters and buffers under their torchvision-style names. */
export async function saveModule(module: Module, file: string, metadata: Record<string, string> = {}): Promise<void> {
  const tensors = new Map<string, SafeTensor>();
  for (const [name, t] of module.stateDict()) tensors.set(name, await toSafeTensor(name, t));
  await writeSafetensors(file, tensors, { format: 'pt', ...metadata });
}

/**
 * Load a file into a module by name (shapes must match). strict (default): every module
 * tensor must be in the file and the file must hold nothing else.
 */
export async function loadModule(module: Module, file: string, opts: { strict?: boolean } = {}): Promise<{ missing: string[]; unexpected: string[]; metadata: Record<string, string> }> {
  const { tensors, metadata } = await readSafetensors(file);
  const own = module.stateDict();
  const state = new Map<string, Tensor>();
  const unexpected: string[] = [];
  try {
    for (const [name, st] of tensors) {
      const mine = own.get(name);
      if (!mine) { unexpected.push(name); continue; }
      if (mine.shape.length !== st.shape.length || mine.shape.some((d, i) => d !== st.shape[i])) {
        throw new SafetensorsError(`${file}: ${name} has shape ${fmtShape(st.shape)} but the module expects ${fmtShape(mine.shape)}`);
      }
      state.set(name, tensor(fromSafeTensor(name, st, mine.dtype), st.shape, { dtype: mine.dtype, backend: mine.backend }));
    }
    const missing = [...own.keys()].filter((k) => !tensors.has(k));
    if ((opts.strict ?? true) && (missing.length || unexpected.length)) {
      throw new SafetensorsError(`${file}: does not match the module: missing [${missing.join(', ')}], unexpected [${unexpected.join(', ')}]`);
    }
    module.loadStateDict(state, false);
    return { missing, unexpected, metadata };
  } finally {
    for (const t of state.values()) t.dispose();
  }
}
