#!/usr/bin/env node
// The `coengine` executable: parse the arguments with the command tree (program.ts); errors are
// one line on stderr and exit code 1 (COENGINE_DEBUG=1 adds the stack).

// Stacks that a user reads (COENGINE_DEBUG's, `bench step --memory-peak`'s allocation origins)
// name lines of the TypeScript sources. Node maps only modules loaded after this, hence the
// dynamic import below.
if (process.env.COENGINE_DEBUG || process.argv.includes('--memory-peak')) process.setSourceMapsEnabled(true);
const { buildProgram } = await import('./program.js');

buildProgram().parseAsync(process.argv).catch((err: unknown) => {
  const e = err as Error;
  process.stderr.write(`coengine: ${e.message ?? String(e)}\n`);
  if (process.env.COENGINE_DEBUG) process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
