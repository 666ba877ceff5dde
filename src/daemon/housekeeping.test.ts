// Housekeeping on the real parts it runs in the daemon: the SQLite session table and the display-ticket store.
// Each round is awaited through its `ran` event (no sleeping); the clock of the tickets is injected.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SESSION_IDLE_MS, sessionCreate, sessionsPrune } from '../auth/sessions.js';
import { DisplayTickets, TICKET_TTL_MS } from '../gateway/tickets.js';
import { openStore, type Store } from '../store/db.js';
import { Housekeeping } from './housekeeping.js';

const quiet = { debug: () => undefined, warn: () => undefined };

async function userAdd(store: Store, name: string): Promise<void> {
  await store.insertInto('users').values({ name, password_hash: 'x', roles: '["user"]', created_at: new Date().toISOString() } as never).execute();
}

const sessionUsers = async (store: Store) => (await store.selectFrom('sessions').select('user').orderBy('user').execute()).map((r) => r.user);

test('expired sessions and display tickets go away round after round, with no new login or ticket', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hk-'));
  const store = await openStore(join(dir, 'ardesia.db'));
  let now = 1_000_000;
  const tickets = new DisplayTickets({ now: () => now });
  const hk = new Housekeeping([
    { name: 'sessionsPruned', run: () => sessionsPrune(store) },
    { name: 'displayTicketsSwept', run: () => tickets.sweep() },
  ], quiet, 1);
  try {
    for (const user of ['ann', 'bob', 'cid']) {
      await userAdd(store, user);
      await sessionCreate(store, user, '127.0.0.1', undefined);
    }
    // ann's session is past its absolute end; bob's has been idle too long; cid's is live.
    await store.updateTable('sessions').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('user', '=', 'ann').execute();
    await store.updateTable('sessions').set({ last_seen_at: new Date(Date.now() - SESSION_IDLE_MS - 1000).toISOString() }).where('user', '=', 'bob').execute();
    const { ticket } = tickets.issue({ name: 'cid' }, 'desk-1');

    const first = once(hk, 'ran');
    hk.start();
    assert.deepEqual((await first)[0], { sessionsPruned: 2, displayTicketsSwept: 0 });
    assert.deepEqual(await sessionUsers(store), ['cid']);

    // Later, with nothing else happening: the ticket's 30 s pass and cid's session ends.
    now += TICKET_TTL_MS;
    await store.updateTable('sessions').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('user', '=', 'cid').execute();
    let round: Record<string, number>;
    do [round] = await once(hk, 'ran'); while (round.displayTicketsSwept === 0);
    assert.equal(round.displayTicketsSwept, 1);
    // Forgotten, not merely expired: redeeming it now finds nothing.
    assert.throws(() => tickets.redeem(ticket, { name: 'cid' }), { code: 'DISPLAY_TICKET_UNKNOWN' });
    assert.deepEqual(await sessionUsers(store), []);
  } finally {
    await hk.close();
    await store.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failing chore is logged and the others still run; close stops the rounds', async () => {
  const warned: string[] = [];
  let runs = 0;
  const hk = new Housekeeping([
    { name: 'broken', run: () => { throw new Error('disk gone'); } },
    { name: 'counted', run: () => ++runs },
  ], { debug: () => undefined, warn: (_f, msg) => warned.push(msg) }, 1);
  // The rounds' timer is unref'd (it must not keep a finished daemon alive): this one keeps the test's loop running.
  const keepAlive = setInterval(() => undefined, 1000);
  const first = once(hk, 'ran');
  hk.start();
  assert.deepEqual((await first)[0], { counted: 1 });
  assert.match(warned[0]!, /housekeeping: broken failed/);
  await once(hk, 'ran');
  await hk.close();
  clearInterval(keepAlive);
  const after = runs;
  // A round already scheduled would have emitted by the next turn of the event loop's timers; none comes.
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(runs, after);
});
