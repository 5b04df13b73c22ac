// Placeholder: replaced by the module that owns `coengine flops`.
import type { Command } from 'commander';
export function registerFlops(_program: Command): void {}
