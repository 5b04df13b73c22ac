// Compute pipelines, compiled once per kernel and specialisation (prelude, override constants),
// never per shape: shapes travel in uniforms. Compile errors name kernels/<file>:<line>, and
// each pipeline's storage-binding accesses are kept for the step memory plan.
import { BackendError } from '../../runtime/errors.js';
import { kernelSource } from './kernel_source.js';
import { bindingAccess } from './binding_access.js';
import type { KernelRef } from './context.js';

/** One compiled variant of a kernel: its override constants and pipeline. */
interface PipelineVariant { constants: Record<string, number>; pipeline: GPUComputePipeline }
const NO_CONSTANTS: Record<string, number> = {};

function sameConstants(a: Record<string, number>, b: Record<string, number>): boolean {
  let n = 0;
  for (const c in b) { if (!Object.is(a[c], b[c])) return false; n++; } // NaN matches NaN
  for (const _ in a) n--;
  return n === 0;
}

/**
 * `kernels/<file>:<line>` for a line of a compiled module: the kernel's own file after the prelude,
 * the file the prelude holds (preludeSource: the GEMM core) in its part of it, else the prelude
 * line. tagLines: lines the statistics label puts before the prelude.
 */
function sourceLine(k: KernelRef, preludeLines: number, tagLines: number, line: number): string {
  if (line > preludeLines) return `kernels/${k.file}:${line - preludeLines}`;
  const inPrelude = line - tagLines;
  const src = k.preludeSource;
  if (src && inPrelude >= src.firstLine) return `kernels/${src.file}:${inPrelude - src.firstLine + 1}`;
  return `kernels/${k.file} (prelude line ${inPrelude})`;
}

/** `prelude#<hash>` for a kernel specialised by a prelude that names no variant; undefined without one. */
function preludeTag(prelude: string | undefined): string | undefined {
  if (!prelude) return undefined;
  let h = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < prelude.length; i++) h = Math.imul(h ^ prelude.charCodeAt(i), 0x01000193);
  return `prelude#${(h >>> 0).toString(16).padStart(8, '0')}`;
}

/** `kernels/<file>:<entry> <variant> {NAME=value ...}`: a pipeline's identity in a word. */
function moduleLabel(base: string, variant: string | undefined, constants: Record<string, number>): string {
  const c = Object.keys(constants).sort().map((n) => `${n}=${constants[n]}`).join(' ');
  return `${base}${variant ? ` ${variant}` : ''}${c ? ` {${c}}` : ''}`;
}

export class PipelineCache {
  // Pipelines by file → entry point → prelude → variants (override constants). Every level but
  // the last is keyed by a string the caller holds (a literal, or a memoised prelude), whose hash
  // V8 keeps: a lookup builds no key, which a per-dispatch string key did (a measurable share of
  // the host's time per dispatch).
  private readonly pipelines = new Map<string, Map<string, Map<string, PipelineVariant[]>>>();
  /** Per pipeline, how each storage binding is declared (binding_access.ts). */
  private readonly access = new WeakMap<GPUComputePipeline, number[]>();
  /** The module being compiled: Dawn reports WGSL errors synchronously inside createShaderModule. */
  private compiling: { k: KernelRef; preludeLines: number; tagLines: number } | null = null;
  /** Pipelines created (cache misses). */
  created = 0;

  /** compileError: told of WGSL errors that arrive asynchronously (they outrank what they cause). */
  constructor(private readonly device: GPUDevice, private readonly compileError: (e: BackendError) => void) {}

  get(k: KernelRef): GPUComputePipeline {
    const entryPoint = k.entryPoint ?? 'main';
    const constants = k.constants ?? NO_CONSTANTS;
    let byEntry = this.pipelines.get(k.file);
    if (!byEntry) this.pipelines.set(k.file, (byEntry = new Map()));
    let byPrelude = byEntry.get(entryPoint);
    if (!byPrelude) byEntry.set(entryPoint, (byPrelude = new Map()));
    const preludeKey = k.prelude ?? '';
    let variants = byPrelude.get(preludeKey);
    if (!variants) byPrelude.set(preludeKey, (variants = []));
    for (const v of variants) if (sameConstants(v.constants, constants)) return v.pipeline;
    const pipeline = this.create(k, entryPoint, constants);
    variants.push({ constants: { ...constants }, pipeline });
    this.created++;
    return pipeline;
  }

  /** How each storage binding of the pipeline is declared (binding_access.ts), by binding index. */
  bindingAccess(pipeline: GPUComputePipeline): number[] | undefined { return this.access.get(pipeline); }

  /**
   * A device error message raised while a module compiles, with its WGSL lines mapped to the
   * kernel files; null when nothing is compiling or it is not a WGSL error.
   */
  wgslError(msg: string): string | null {
    if (!this.compiling || !msg.includes('WGSL')) return null;
    const { k, preludeLines, tagLines } = this.compiling;
    return `WGSL compile error in kernels/${k.file}: ` +
      msg.replace(/:(\d+):(\d+) error/g, (_, l, c) => `${sourceLine(k, preludeLines, tagLines, Number(l))}:${c} error`);
  }

  private create(k: KernelRef, entryPoint: string, constants: Record<string, number>): GPUComputePipeline {
    const label = `kernels/${k.file}:${entryPoint}`;
    // The module's label names the variant too: --pipeline-stats reports each pipeline under it
    // (Dawn passes module labels to the driver, not pipeline labels). Dawn shares one module
    // among identical sources, under the first one's label, so with statistics on, the label
    // also goes into the source as a comment line, making each pipeline's module its own.
    const fullLabel = moduleLabel(label, k.variant ?? preludeTag(k.prelude), constants);
    const tag = process.env.COENGINE_VK_STATS_FILE ? `// ${fullLabel}\n` : '';
    const prelude = tag + (k.prelude ? (k.prelude.endsWith('\n') ? k.prelude : k.prelude + '\n') : '');
    const preludeLines = prelude ? prelude.split('\n').length - 1 : 0;
    const code = prelude + kernelSource(k.file);
    const tagLines = tag ? 1 : 0;
    this.compiling = { k, preludeLines, tagLines };
    let module: GPUShaderModule;
    try {
      module = this.device.createShaderModule({ code, label: fullLabel });
    } finally { this.compiling = null; }
    // Compilation messages arrive asynchronously; map their lines back to the .wgsl file.
    void module.getCompilationInfo().then((info) => {
      const errors = info.messages.filter((m) => m.type === 'error');
      if (!errors.length) return;
      const where = (m: GPUCompilationMessage) => `${sourceLine(k, preludeLines, tagLines, m.lineNum)}:${m.linePos}`;
      this.compileError(new BackendError(`WGSL compile error: ` + errors.map((m) => `${where(m)}: ${m.message}`).join('; ')));
    });
    const pipeline = this.device.createComputePipeline({
      label, layout: 'auto',
      compute: { module, entryPoint, constants: Object.keys(constants).length ? constants : undefined },
    });
    this.access.set(pipeline, bindingAccess(code));
    return pipeline;
  }
}
