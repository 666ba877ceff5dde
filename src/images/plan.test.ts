import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chainOf, dependantsOf, gcPlan, publishLayout, type UsageFacts } from './plan.js';

test('publishLayout: overlay on the base until the chain would pass MAX_CHAIN_DEPTH', () => {
  assert.deepEqual(publishLayout(undefined, false), { flatten: true, depth: 1, backingVersion: null });
  assert.deepEqual(publishLayout({ version: 1, backingVersion: null, depth: 1 }, false), { flatten: false, depth: 2, backingVersion: 1 });
  assert.deepEqual(publishLayout({ version: 3, backingVersion: 2, depth: 3 }, false), { flatten: false, depth: 4, backingVersion: 3 });
  assert.deepEqual(publishLayout({ version: 4, backingVersion: 3, depth: 4 }, false), { flatten: true, depth: 1, backingVersion: null });
  assert.deepEqual(publishLayout({ version: 1, backingVersion: null, depth: 1 }, true), { flatten: true, depth: 1, backingVersion: null });
});

const facts: UsageFacts = {
  currentVersion: 3,
  versions: [
    { version: 1, backingVersion: null, depth: 1 },
    { version: 2, backingVersion: 1, depth: 2 },
    { version: 3, backingVersion: null, depth: 1 },
    { version: 4, backingVersion: 3, depth: 2 },
    { version: 5, backingVersion: null, depth: 1 },
  ],
  desktops: [{ name: 'd1', version: 5 }],
  maintenanceBase: null,
};

test('dependantsOf names desktops, the maintenance session and overlays', () => {
  assert.deepEqual(dependantsOf(1, facts), ['version 2 (an overlay on it)']);
  assert.deepEqual(dependantsOf(5, facts), ['desktop d1']);
  assert.deepEqual(dependantsOf(4, { ...facts, maintenanceBase: 4 }), ['the open maintenance session']);
  assert.deepEqual(dependantsOf(2, facts), []);
});

test('gcPlan deletes newest-first and frees a base once its overlays are gone; never current', () => {
  assert.deepEqual(gcPlan(facts), [4, 2, 1]);
  assert.deepEqual(gcPlan({ ...facts, desktops: [{ name: 'd2', version: 2 }] }), [5, 4]);
  assert.deepEqual(gcPlan({ ...facts, currentVersion: 2, desktops: [] }), [5, 4, 3]);
});

test('chainOf follows the backing versions', () => {
  assert.deepEqual(chainOf(2, facts.versions), [2, 1]);
  assert.deepEqual(chainOf(3, facts.versions), [3]);
  assert.deepEqual(chainOf(9, facts.versions), []);
});
