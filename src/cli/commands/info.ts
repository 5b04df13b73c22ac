// Placeholder: replaced by the module that owns `coengine info`.
import type { Command } from 'commander';
export function registerInfo(_program: Command): void {}
