// Parsers for the numeric options of every command. They throw commander's InvalidArgumentError,
// which commander reports with the option and the value (exit code 1):
//   error: option '--batch <n>' argument '0' is invalid. Expected a positive integer.
// Ranges a configuration checks under its own names (pretrain's resolveConfig, which also checks
// configuration files) are left to it: those options only ask for an integer or a number here.
import { InvalidArgumentError } from 'commander';

export type OptionParser = (value: string) => number;

function parser(what: string, ok: (n: number) => boolean): OptionParser {
  return (v) => {
    const n = Number(v);
    if (v.trim() === '' || !ok(n)) throw new InvalidArgumentError(`Expected ${what}.`);
    return n;
  };
}

export const positiveInteger = parser('a positive integer', (n) => Number.isInteger(n) && n >= 1);
export const nonNegativeInteger = parser('a non-negative integer', (n) => Number.isInteger(n) && n >= 0);
export const anyInteger = parser('an integer', Number.isInteger);
export const positiveNumber = parser('a positive number', (n) => Number.isFinite(n) && n > 0);
export const finiteNumber = parser('a number', Number.isFinite);
