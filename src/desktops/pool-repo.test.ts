import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore } from '../store/db.js';
import { isInSession } from '../contract/desktop-states.js';
import type { DesktopState } from '../contract/pools.js';
import { poolDesktopCounts, poolDesktopsAll, poolDesktopsBooting, poolDesktopsOwned } from './pool-repo.js';

test('the desktops booting now are read without every pool desktop: only the booting rows, every pool', async () => {
  const db = await openStore(':memory:');
  try {
    const at = new Date().toISOString();
    await db.insertInto('pools').values(['a', 'b'].map((name) => ({ name, spec: JSON.stringify({ name, image: 'gold', entitled: { users: [], groups: [] } }), created_at: at, created_by: 'root', updated_at: at }))).execute();
    const states: Array<[string, string, string]> = [
      ['a-1', 'a', 'booting'],
      ['a-2', 'a', 'ready'],
      ['a-3', 'a', 'stopped'],
      ['b-1', 'b', 'booting'],
      ['b-2', 'b', 'in-use'],
      ['b-3', 'b', 'resetting'],
    ];
    await db.insertInto('pool_desktops').values(states.map(([name, pool, state]) => ({ name, pool, state, user: null, host: null, image: 'gold', version: 1, since: at, last_error: null, failure_step: null, failure_vm_exit: null, failure_console: null, created_at: at }))).execute();
    const booting = await poolDesktopsBooting(db);
    assert.deepEqual(booting, [{ name: 'a-1', state: 'booting' }, { name: 'b-1', state: 'booting' }]);
    assert.deepEqual(booting, (await poolDesktopsAll(db)).filter((d) => d.state === 'booting').map((d) => ({ name: d.name, state: d.state })), 'the same as filtering every row');
    await db.updateTable('pool_desktops').set({ state: 'ready' }).execute();
    assert.deepEqual(await poolDesktopsBooting(db), []);
  } finally {
    await db.destroy();
  }
});

test('the owned desktops are the rows with a user, every pool: the sessions are found among them as among all rows', async () => {
  const db = await openStore(':memory:');
  try {
    const at = new Date().toISOString();
    await db.insertInto('pools').values(['a', 'b'].map((name) => ({ name, spec: JSON.stringify({ name, image: 'gold', entitled: { users: [], groups: [] } }), created_at: at, created_by: 'root', updated_at: at }))).execute();
    const rows: Array<[string, string, string, string | null]> = [
      ['a-1', 'a', 'in-use', 'alice'],
      ['a-2', 'a', 'ready', null],
      ['a-3', 'a', 'stopped', 'bob'],
      ['b-1', 'b', 'logging-off', 'carol'],
      ['b-2', 'b', 'booting', null],
    ];
    await db.insertInto('pool_desktops').values(rows.map(([name, pool, state, user]) => ({ name, pool, state, user, host: null, image: 'gold', version: 1, since: at, last_error: null, failure_step: null, failure_vm_exit: null, failure_console: null, created_at: at }))).execute();
    const owned = await poolDesktopsOwned(db);
    assert.deepEqual(owned.map((d) => d.name), ['a-1', 'a-3', 'b-1']);
    const sessions = (ds: Array<{ name: string; user: string | null; state: string }>) => ds.filter((d) => d.user !== null && isInSession(d.state as DesktopState)).map((d) => d.name);
    assert.deepEqual(sessions(owned), sessions(await poolDesktopsAll(db)));
    assert.deepEqual(sessions(owned), ['a-1', 'b-1']);
    // The metrics' counts: per pool and state, how many and how many someone has; the same as counting every row.
    await db.insertInto('pool_desktops').values({ name: 'a-4', pool: 'a', state: 'ready', user: 'dave', host: null, image: 'gold', version: 1, since: at, last_error: null, failure_step: null, failure_vm_exit: null, failure_console: null, created_at: at }).execute();
    const counts = await poolDesktopCounts(db);
    assert.deepEqual(counts, [
      { pool: 'a', state: 'in-use', count: 1, owned: 1 },
      { pool: 'a', state: 'ready', count: 2, owned: 1 },
      { pool: 'a', state: 'stopped', count: 1, owned: 1 },
      { pool: 'b', state: 'booting', count: 1, owned: 0 },
      { pool: 'b', state: 'logging-off', count: 1, owned: 1 },
    ]);
    const all = await poolDesktopsAll(db);
    for (const k of counts) assert.equal(k.count, all.filter((d) => d.pool === k.pool && d.state === k.state).length, `${k.pool} ${k.state}`);
  } finally {
    await db.destroy();
  }
});
