import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzOne } from './fuzz.js';
import { ALL_FIXTURES } from './fixtures.js';

test('fuzzOne: fixtures are judged, broken input is a proper rejection, never a crash', () => {
  assert.equal(fuzzOne(ALL_FIXTURES[0]!).kind, 'accepted');
  for (const input of ['vm "a" {', '\0', 'include "/loop.conf"', 'vm $', '"', '}}}', 'x = "v"\nvm $x {\n}\n'.repeat(3)]) {
    const outcome = fuzzOne(input);
    assert.notEqual(outcome.kind, 'crash', `${JSON.stringify(input)}: ${JSON.stringify(outcome)}`);
  }
});
