import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DESKTOP_STATES, type DesktopView } from '../contract/pools.js';
import { mulberry32 } from '../lib/prng.js';
import { groupBy } from '../lib/group-by.js';
import { tallyOfDesktops, tallyOfGroups } from './pool-tally.js';

const desktop = (name: string, state: DesktopView['state'], imageVersion: number): DesktopView => ({
  name, pool: 'lab', state, user: null, host: null, imageVersion, since: '2026-12-06T00:00:00.000Z', failure: null,
});

test('a pool tally: states, versions without the retiring, and the desktops in session', () => {
  const t = tallyOfDesktops([desktop('a', 'in-use', 1), desktop('b', 'ready', 2), desktop('c', 'retiring', 1), desktop('d', 'logging-off', 2), desktop('e', 'ready', 2)]);
  assert.equal(t.total, 5);
  assert.deepEqual(t.byState, { 'in-use': 1, ready: 2, retiring: 1, 'logging-off': 1 });
  assert.deepEqual(t.byVersion, { '1': 1, '2': 3 });
  assert.deepEqual(t.inSession.map((d) => d.name), ['a', 'd']);
  assert.deepEqual(tallyOfGroups([], []), { total: 0, byState: {}, byVersion: {}, inSession: [] });
});

test("a tally from grouped counts is the one from the desktops' rows (seeded random pools)", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const rnd = mulberry32(seed);
    const desktops = Array.from({ length: Math.floor(rnd() * 40) }, (_, i) => desktop(`d${i}`, DESKTOP_STATES[Math.floor(rnd() * DESKTOP_STATES.length)]!, 1 + Math.floor(rnd() * 3)));
    const groups = [...groupBy(desktops, (d) => `${d.state}/${d.imageVersion}`).values()].map((g) => ({ state: g[0]!.state, version: g[0]!.imageVersion, count: g.length }));
    // The list reads every desktop someone has (a superset of those in session): the tally keeps those in session.
    const owned = desktops.filter(() => rnd() < 0.5).concat(desktops.filter((d) => d.state === 'in-use' || d.state === 'assigned' || d.state === 'disconnected' || d.state === 'logging-off'));
    const unique = [...new Map(owned.map((d) => [d.name, d])).values()].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
    const fromRows = tallyOfDesktops(desktops);
    const fromGroups = tallyOfGroups(groups.reverse(), unique);
    assert.deepEqual({ ...fromGroups, inSession: new Set(fromGroups.inSession.map((d) => d.name)) }, { ...fromRows, inSession: new Set(fromRows.inSession.map((d) => d.name)) }, `seed ${seed}`);
  }
});
