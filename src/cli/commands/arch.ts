// Placeholder: replaced by the module that owns `coengine arch`.
import type { Command } from 'commander';
export function registerArch(_program: Command): void {}
