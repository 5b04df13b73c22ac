// .safetensors: round trips, header validation, interop with a file written by Python, and
// torchvision's key set for a ResNet-50 checkpoint.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { promises as fs, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpu } from '../../src/backend/registry.js';
import { tensor } from '../../src/ops/index.js';
import { Module } from '../../src/nn/module.js';
import { createBackbone } from '../../src/models/index.js';
import {
  encodeSafetensors, decodeSafetensors, validateHeader, writeSafetensors, readSafetensors,
  saveModule, loadModule, SafetensorsError, type SafeTensor,
} from '../../src/io/safetensors.js';
import { fixturePath } from '../helpers/fixtures.js';

async function rejects(fn: () => Promise<unknown>, re: RegExp): Promise<void> {
  try { await fn(); } catch (e) {
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable(`expected a rejection matching ${re}`);
}

const dir = await fs.mkdtemp(join(tmpdir(), 'coengine-st-'));

function sample(): Map<string, SafeTensor> {
  return new Map<string, SafeTensor>([
    ['a', { dtype: 'F32', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, -6.5) }],
    ['b.count', { dtype: 'I64', shape: [], data: BigInt64Array.of(-42n) }],
    ['c', { dtype: 'U8', shape: [3], data: Uint8Array.of(0, 7, 255) }],
    ['d', { dtype: 'F64', shape: [1], data: Float64Array.of(Math.PI) }],
    ['e', { dtype: 'I32', shape: [2, 0], data: new Int32Array(0) }],
  ]);
}

/** A file from a hand-made header and data bytes. */
function rawFile(header: unknown, data: Uint8Array, pad = true): Uint8Array {
  let json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  if (pad && json.length % 8) json = Buffer.concat([json, Buffer.alloc(8 - (json.length % 8), 0x20)]);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

test('encode/decode round trip keeps dtypes, shapes, values and metadata', () => {
  const bytes = encodeSafetensors(sample(), { format: 'pt', note: 'x' });
  const len = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.is(len % 8, 0, 'header padded to 8 bytes');
  assert.is(String.fromCharCode(bytes[8]), '{');
  const { tensors, metadata } = decodeSafetensors(bytes);
  assert.equal(metadata, { format: 'pt', note: 'x' });
  assert.equal([...tensors.keys()], ['a', 'b.count', 'c', 'd', 'e']);
  for (const [k, t] of sample()) {
    const got = tensors.get(k)!;
    assert.is(got.dtype, t.dtype);
    assert.equal(got.shape, t.shape);
    assert.equal([...got.data as ArrayLike<unknown> as unknown[]], [...t.data as ArrayLike<unknown> as unknown[]]);
  }
  // tensors are contiguous in the given order
  const h = validateHeader(bytes);
  assert.equal(h.entries.get('a')!.data_offsets, [0, 24]);
  assert.equal(h.entries.get('b.count')!.data_offsets, [24, 32]);
  assert.equal(h.entries.get('d')!.data_offsets, [35, 43]);
});

test('validateHeader rejects malformed files with a message naming the problem', () => {
  const ok = { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const d8 = new Uint8Array(8);
  validateHeader(rawFile(ok, d8));
  validateHeader(rawFile(ok, d8, false)); // padding is not required to read
  const bad: [unknown, Uint8Array, RegExp][] = [
    [{ x: { dtype: 'F16', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4), /unsupported dtype "F16"/],
    [{ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, d8, /needs 12 bytes/],
    [{ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(12), /cover 8 bytes but the file holds 12/],
    [{ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(4), /run past/],
    [{ x: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, d8, /hole/],
    [{ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, y: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, d8, /overlap/],
    [{ x: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, d8, /non-negative integers/],
    [{ __metadata__: { n: 3 }, ...ok }, d8, /__metadata__.n must be a string/],
    ['[1, 2]', d8, /must start with '\{'/],
    ['{"x": ', d8, /not valid JSON/],
  ];
  for (const [h, data, re] of bad) assert.throws(() => validateHeader(rawFile(h, data)), (e: Error) => e instanceof SafetensorsError && re.test(e.message), String(re));
  const lie = rawFile(ok, d8);
  new DataView(lie.buffer).setBigUint64(0, 1000n, true);
  assert.throws(() => validateHeader(lie), /runs past the end/);
  assert.throws(() => validateHeader(new Uint8Array(5)), /missing/);
});

test('writing is atomic: the target appears complete, no temp file is left behind', async () => {
  const f = join(dir, 'a.safetensors');
  await fs.writeFile(f, 'old contents');
  await writeSafetensors(f, sample(), { k: 'v' });
  assert.equal((await fs.readdir(dir)).filter((n) => n.includes('tmp')), []);
  const { tensors, metadata } = await readSafetensors(f);
  assert.is(metadata.k, 'v');
  assert.is(tensors.size, 5);
  assert.not.throws(() => encodeSafetensors(new Map([['x', { dtype: 'F32', shape: [1], data: new Float32Array(1) }]])));
  assert.throws(() => encodeSafetensors(new Map([['x', { dtype: 'F64', shape: [1], data: new Float32Array(1) }]])), /Float32Array but dtype says F64/);
});

test('reads a file written by the Python fixture script (independent writer)', async () => {
  const { tensors, metadata } = await readSafetensors(fixturePath('resnet18_forward.safetensors'));
  assert.is(metadata.generator, 'make_resnet18_fixture.py');
  assert.equal(tensors.get('eval.localMap')!.shape, [2, 2, 2, 512]);
  assert.is(tensors.get('eval.localMap')!.dtype, 'F64');
  assert.is(tensors.get('train.bn1.num_batches_tracked')!.dtype, 'I64');
  assert.equal([...tensors.get('train.bn1.num_batches_tracked')!.data as BigInt64Array], [1n]);
});

test('saveModule/loadModule round trip; num_batches_tracked is written as I64 like torch', async () => {
  const src = createBackbone('rf29-resnet18', { backend: cpu(), width: 0.125 });
  const f = join(dir, 'rf29.safetensors');
  await saveModule(src, f, { epoch: '3' });
  const { tensors, metadata } = await readSafetensors(f);
  assert.equal(metadata, { format: 'pt', epoch: '3' });
  assert.is(tensors.get('bn1.num_batches_tracked')!.dtype, 'I64');
  assert.is(tensors.get('layer1.0.conv1.weight')!.dtype, 'F32');
  assert.equal(tensors.get('layer1.0.conv1.weight')!.shape, [8, 8, 3, 3]); // OIHW
  const dst = createBackbone('rf29-resnet18', { backend: cpu(), width: 0.125, init: 'zeros' });
  const r = await loadModule(dst, f);
  assert.equal([r.missing, r.unexpected], [[], []]);
  for (const [name, t] of src.stateDict()) {
    assert.equal([...dst.stateDict().get(name)!.dataSync()], [...t.dataSync()], name);
  }
});

test('loadModule refuses mismatched files with names and shapes', async () => {
  const f = join(dir, 'rf29w.safetensors');
  await saveModule(createBackbone('rf29-resnet18', { backend: cpu(), width: 0.125, init: 'zeros' }), f);
  const wider = createBackbone('rf29-resnet18', { backend: cpu(), width: 0.25, init: 'zeros' });
  await rejects(() => loadModule(wider, f), /conv1.weight has shape \[8, 3, 3, 3\] but the module expects \[16, 3, 3, 3\]/);
  const withFc = createBackbone('rf29-resnet18', { backend: cpu(), width: 0.125, init: 'zeros', numClasses: 10 });
  await rejects(() => loadModule(withFc, f), /missing \[fc.weight, fc.bias\], unexpected \[\]/);
  assert.equal((await loadModule(withFc, f, { strict: false })).missing, ['fc.weight', 'fc.bias']);
  // f64 modules load f32 files by converting
  class One extends Module {
    w = this.param('w', tensor(new Float64Array(2), [2], { dtype: 'f64', backend: cpu() }));
    forward(x: never) { return x; }
  }
  const g = join(dir, 'one.safetensors');
  await writeSafetensors(g, new Map([['w', { dtype: 'F32', shape: [2], data: Float32Array.of(0.5, -2) }]]));
  const one = new One();
  await loadModule(one, g);
  assert.equal([...one.w.dataSync()], [0.5, -2]);
});

test('a ResNet-50 checkpoint has exactly torchvision resnet50\'s keys and shapes, minus fc', async () => {
  const ref = JSON.parse(readFileSync(fixturePath('torchvision_keys.json'), 'utf8')) as Record<string, Record<string, number[]>>;
  for (const name of ['resnet50', 'resnet18']) {
    const want = Object.entries(ref[name]).filter(([k]) => !k.startsWith('fc.'));
    assert.ok(want.length === Object.keys(ref[name]).length - 2);
    const m = createBackbone(name, { backend: cpu(), init: 'zeros' });
    const f = join(dir, `${name}.safetensors`);
    await saveModule(m, f);
    const h = validateHeader(new Uint8Array(readFileSync(f)));
    const got = [...h.entries].map(([k, e]) => [k, e.shape] as [string, number[]]);
    assert.equal(got.map(([k]) => k).sort(), want.map(([k]) => k).sort(), `${name} key set`);
    const wantShapes = new Map(want);
    for (const [k, s] of got) assert.equal(s, wantShapes.get(k), `${name} ${k}`);
    await fs.rm(f);
  }
  // with a classifier, fc.weight / fc.bias complete the set
  const withFc = createBackbone('resnet18', { backend: cpu(), init: 'zeros', numClasses: 1000 });
  assert.equal([...withFc.stateDict().keys()].sort(), Object.keys(ref.resnet18).sort());
});

test.after(async () => { await fs.rm(dir, { recursive: true, force: true }); });

test.run();
