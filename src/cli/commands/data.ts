// Placeholder: replaced by the module that owns `coengine data`.
import type { Command } from 'commander';
export function registerData(_program: Command): void {}
