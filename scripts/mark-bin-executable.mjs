// The `coengine` bin (package.json "bin") is a file tsc writes with mode 644. npm marks bin
// targets executable when it links them, which for this package happens before `prepare` has
// built them, so `npx coengine` in a fresh clone would fail with "Permission denied".
// Run after every build.
import { chmodSync } from 'node:fs';

chmodSync(new URL('../dist/src/cli/main.js', import.meta.url), 0o755);
