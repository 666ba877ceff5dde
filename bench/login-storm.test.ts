import assert from 'node:assert/strict';
import { test } from 'node:test';
import { percentile, startModeFromArgs, usersFromArgs } from './login-storm.js';

test('nearest-rank percentiles: p50 and p99 of 20 samples, unsorted input untouched', () => {
  const input = Array.from({ length: 20 }, (_, i) => 20 - i); // 20 … 1
  assert.equal(percentile(input, 50), 10);
  assert.equal(percentile(input, 99), 20);
  assert.equal(percentile(input, 0), 1);
  assert.equal(percentile([7], 99), 7);
  assert.equal(input[0], 20);
  assert.throws(() => percentile([], 50), /no samples/);
});

test('--users N is read from argv, 20 without it, nonsense refused', () => {
  assert.equal(usersFromArgs(['node', 'run.js', 'pool-login-storm']), 20);
  assert.equal(usersFromArgs(['pool-login-storm', '--users', '8']), 8);
  assert.throws(() => usersFromArgs(['--users', 'x']), /whole number/);
  assert.throws(() => usersFromArgs(['--users', '0']), /whole number/);
});

test('--start picks the pool start mode; anything else is refused', () => {
  assert.equal(startModeFromArgs(['pool-login-storm']), 'boot');
  assert.equal(startModeFromArgs(['pool-login-storm', '--start', 'restore']), 'restore');
  assert.throws(() => startModeFromArgs(['--start', 'fork']), /--start wants boot or restore, not fork/);
});
