#!/usr/bin/env node
// The `coengine` executable: parse the arguments with the command tree (program.ts); errors are
// one line on stderr and exit code 1 (COENGINE_DEBUG=1 adds the stack).
import { buildProgram } from './program.js';

buildProgram().parseAsync(process.argv).catch((err: unknown) => {
  const e = err as Error;
  process.stderr.write(`coengine: ${e.message ?? String(e)}\n`);
  if (process.env.COENGINE_DEBUG) process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
