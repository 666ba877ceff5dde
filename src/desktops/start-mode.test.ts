import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultStartMode } from './start-mode.js';

test('a new pool restores by default only where its image\'s guest helper takes a clone\'s identity and no bridge needs a MAC', () => {
  const cases: Array<[string, number | null, 'none' | 'nat' | 'bridge', 'boot' | 'restore']> = [
    ['helper 2, no network', 2, 'none', 'restore'],
    ['helper 3, NAT', 3, 'nat', 'restore'],
    ['helper 2 on a bridge (each desktop its own locked MAC)', 2, 'bridge', 'boot'],
    ['helper 1 (no resumed)', 1, 'none', 'boot'],
    ['helper unknown (an imported image)', null, 'none', 'boot'],
  ];
  for (const [name, guestHelper, mode, expected] of cases) assert.equal(defaultStartMode({ guestHelper }, { mode }), expected, name);
});
