// WGSL sources from kernels/, read once per process (the runtime compiles them; the GEMM launcher
// splices the shared core into its hook kernels).
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BackendError } from '../../runtime/errors.js';

let kernelDir: string | null = null;
const sources = new Map<string, string>();

/** The package's root (holding package.json and kernels/), found from src/ or dist/src/ by walking up. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 7; i++) {
    if (existsSync(join(dir, 'kernels')) && existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new BackendError('cannot find the kernels/ directory next to package.json');
}

function findKernelDir(): string { return join(packageRoot(), 'kernels'); }

/** The text of kernels/<file> (cached). */
export function kernelSource(file: string): string {
  let src = sources.get(file);
  if (src === undefined) {
    kernelDir ??= findKernelDir();
    const path = join(kernelDir, file);
    if (!existsSync(path)) throw new BackendError(`kernel file kernels/${file} does not exist`);
    src = readFileSync(path, 'utf8');
    sources.set(file, src);
  }
  return src;
}
