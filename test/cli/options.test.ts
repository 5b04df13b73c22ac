// The numeric option parsers every command shares (src/cli/options.ts): the values each takes and
// refuses, with commander's InvalidArgumentError saying what was expected.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidArgumentError } from 'commander';
import { anyInteger, finiteNumber, nonNegativeInteger, positiveInteger, positiveNumber, type OptionParser } from '../../src/cli/options.js';

function refuses(p: OptionParser, v: string, expected: string): void {
  assert.throws(() => p(v), (e: Error) => e instanceof InvalidArgumentError && e.message === `Expected ${expected}.`, `'${v}'`);
}

test('integers: the range each asks for, and no fractions, blanks or words', () => {
  assert.is(positiveInteger('1'), 1);
  assert.is(positiveInteger('1e3'), 1000);
  for (const v of ['0', '-1', '2.5', '', ' ', 'x', 'Infinity']) refuses(positiveInteger, v, 'a positive integer');
  assert.is(nonNegativeInteger('0'), 0);
  for (const v of ['-1', '0.5', '']) refuses(nonNegativeInteger, v, 'a non-negative integer');
  assert.is(anyInteger('-7'), -7);
  for (const v of ['1.5', 'NaN', '']) refuses(anyInteger, v, 'an integer');
});

test('numbers: finite, and positive where asked', () => {
  assert.is(finiteNumber('-0.25'), -0.25);
  assert.is(positiveNumber('0.0625'), 0.0625);
  for (const v of ['Infinity', 'fast', '']) refuses(finiteNumber, v, 'a number');
  for (const v of ['0', '-1', 'Infinity', '']) refuses(positiveNumber, v, 'a positive number');
});

test.run();
