// The command line: every command and option is described (complete --help), the CPU fallback
// is announced, and bad flags fail with a message and exit code 1.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/program.js';

const main = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });

/** Write text to a new file in a temporary folder; its path. */
function tempFile(name: string, text: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'coengine-cli-')), name);
  writeFileSync(file, text);
  return file;
}

function walk(c: Command, at: string[] = []): [string[], Command][] {
  return [[at, c], ...c.commands.flatMap((s) => walk(s, [...at, s.name()]))];
}

test('the built bin runs as a program (executable, with its shebang), as `npx coengine` needs', () => {
  const r = spawnSync(main, ['--version'], { encoding: 'utf8', timeout: 60_000 });
  assert.is(r.error, undefined, `running ${main} directly: ${r.error?.message}`);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /\d+\.\d+\.\d+/);
});

test('every command and every option has a description', () => {
  const all = walk(buildProgram());
  assert.ok(all.length >= 12, `found ${all.length} commands`);
  for (const [at, c] of all) {
    assert.ok(c.description().trim().length > 10, `command '${at.join(' ')}' needs a description`);
    for (const o of c.options) assert.ok((o.description ?? '').trim().length > 3, `option ${o.flags} of '${at.join(' ')}' needs a description`);
  }
});

test('--help works for every command', () => {
  for (const [at] of walk(buildProgram())) {
    const r = run([...at, '--help']);
    assert.is(r.status, 0, `${at.join(' ')} --help: ${r.stderr}`);
    assert.match(r.stdout, /Usage: coengine/);
  }
});

test('without an adapter, info reports the CPU backend and says so', () => {
  const r = run(['info', '--json'], { COENGINE_NO_GPU: '1' });
  assert.is(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.is(info.backend, 'cpu');
});

test('--no-robustness reaches the device: Dawn gets disable_robustness (info lists the toggles)', () => {
  const toggles = (args: string[]) => {
    const r = run(args);
    assert.is(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    return info.backend === 'webgpu' ? (info.dawnToggles as string[]).join(',') : null;
  };
  const off = toggles(['--no-robustness', 'info', '--json']);
  if (off === null) return; // CPU fallback: no device to configure
  assert.match(off, /disable_robustness/);
  assert.not.match(toggles(['info', '--json'])!, /disable_robustness/);
});

test('--gemm-tuning: a missing or malformed table fails before any work, naming the file and the problem', () => {
  let r = run(['--gemm-tuning', '/nonexistent/table.json', 'info']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /GEMM tuning table \/nonexistent\/table\.json: no such file/);
  r = run(['--gemm-tuning', tempFile('bad.json', '{"version":1,"device":"x","sites":{"s":{"tile":"huge"}}}'), 'info']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /site 's' names tile "huge", not one of direct32,/);
});

test('info reports the GEMM tuning table in effect, and whether it was measured on this adapter', () => {
  const table = tempFile('t.json', JSON.stringify({ version: 1, device: 'some other GPU', workload: 'byol resnet50 batch 64, 224 px',
    created: 'now', candidates: ['shared64p'], sites: { 'matmul 1×2×3×4': { tile: 'shared64p', ms: 1, heuristicMs: 2 } } }));
  const r = run(['--gemm-tuning', table, 'info', '--json']);
  assert.is(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  if (info.backend !== 'webgpu') return; // the CPU fallback has no tiles
  assert.equal(info.gemmTuning, { workload: 'byol resnet50 batch 64, 224 px', device: 'some other GPU', created: 'now', sites: 1, appliesHere: false });
  assert.is(JSON.parse(run(['info', '--json']).stdout).gemmTuning, null);
});

test('bad pretrain flags fail with a message naming the problem', () => {
  let r = run(['pretrain', '--batch-size', '1', '--out', '/tmp/coengine-cli-test', '--device', 'cpu']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /batchSize/);
  r = run(['pretrain', '--lr', 'fast']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /option '--lr <x>' argument 'fast' is invalid\. Expected a number\./);
  r = run(['pretrain', '--image-size', '-5', '--device', 'cpu']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /invalid imageSize: -5/);
  r = run(['pretrain', '--max-steps', '0']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /'--max-steps <n>' argument '0' is invalid\. Expected a positive integer\./);
  r = run(['pretrain', '--method', 'simclr']);
  assert.not.equal(r.status, 0);
  assert.match(r.stderr, /simclr/);
  r = run(['pretrain', '--data', '/nonexistent/dataset', '--device', 'cpu', '--out', '/tmp/coengine-cli-test2']);
  assert.is(r.status, 1);
  assert.match(r.stderr, /\/nonexistent\/dataset/);
});

test.run();
