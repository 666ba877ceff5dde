import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DesktopState, DesktopView } from '../contract/pools.js';
import { needsPlacement, placeSpareActions } from './placement-plan.js';
import type { SpareAction } from './spares-plan.js';

const d = (name: string, state: DesktopState, host: string | null, user: string | null = null): DesktopView => ({ name, pool: 'p', state, user, host, imageVersion: 1, since: '2026-12-04T00:00:00.000Z', failure: null });
const DESKTOPS = [d('p-1', 'ready', 'h1'), d('p-2', 'booting', 'h1'), d('p-3', 'ready', 'h2'), d('p-4', 'in-use', 'h1', 'alice'), d('p-5', 'stopped', 'h1')];
const BOOT5: SpareAction = { kind: 'boot', desktop: 'p-5' };
const CREATE: SpareAction = { kind: 'create', name: 'p-6' };

const CASES: Array<[string, SpareAction[], string[], boolean, SpareAction[]]> = [
  ['all hosts up, placeable: unchanged', [BOOT5, CREATE], [], true, [BOOT5, CREATE]],
  ['cannot place: boots dropped, clones still made (cold spares need no host)', [BOOT5, CREATE], [], false, [CREATE]],
  ['h1 draining: its free warm spares stop, in order', [], ['h1'], true, [{ kind: 'stop', desktop: 'p-1' }, { kind: 'stop', desktop: 'p-2' }]],
  ['a session on a draining host is left alone', [], ['h1'], true, [{ kind: 'stop', desktop: 'p-1' }, { kind: 'stop', desktop: 'p-2' }]],
  ["the other host's spares stay", [], ['h2'], true, [{ kind: 'stop', desktop: 'p-3' }]],
  ['a retire of an evicted spare stands, no stop added', [{ kind: 'retire', desktop: 'p-1', reason: 'surplus' }], ['h1'], true, [{ kind: 'retire', desktop: 'p-1', reason: 'surplus' }, { kind: 'stop', desktop: 'p-2' }]],
  ['a recycle of an evicted spare gives way to the stop', [{ kind: 'recycle', desktop: 'p-3' }], ['h2'], true, [{ kind: 'stop', desktop: 'p-3' }]],
];

for (const [name, actions, notUp, canPlace, expected] of CASES) {
  test(`spares under placement: ${name}`, () => {
    assert.deepEqual(placeSpareActions(actions, DESKTOPS, new Set(notUp), canPlace), expected);
  });
}

test('only boots need a host', () => {
  assert.equal(needsPlacement([CREATE, { kind: 'stop', desktop: 'x' }]), false);
  assert.equal(needsPlacement([CREATE, BOOT5]), true);
});
