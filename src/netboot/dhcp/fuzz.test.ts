import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runDhcpFuzz } from './fuzz.js';

test('8,000 mutated and random packets: no crash, and every path is exercised', () => {
  const result = runDhcpFuzz(20260101, 8_000);
  assert.equal(result.crash, undefined, result.crash ? `${result.crash.why}\n${result.crash.packet}` : '');
  assert.ok(result.counts.replied! > 400, JSON.stringify(result.counts));
  assert.ok(result.counts.silent! > 40, JSON.stringify(result.counts));
  assert.ok(result.counts.rejected! > 400, JSON.stringify(result.counts));
});
