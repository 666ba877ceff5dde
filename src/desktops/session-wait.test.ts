import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { DesktopState, DesktopView } from '../contract/pools.js';
import type { DesktopMachine } from './pool-machine.js';
import { endingSessionOf, untilPreviousSessionEnded } from './session-wait.js';

const d = (name: string, state: DesktopState, user: string | null) => ({ name, state, user });

test("the user's ending session: logging off or resetting, theirs only", () => {
  const cases: Array<{ what: string; desktops: ReturnType<typeof d>[]; expect: string | undefined }> = [
    { what: 'logging off', desktops: [d('p-1', 'logging-off', 'dora')], expect: 'p-1' },
    { what: 'a persistent desktop being reset', desktops: [d('p-1', 'resetting', 'dora')], expect: 'p-1' },
    { what: "someone else's logoff", desktops: [d('p-1', 'logging-off', 'eve')], expect: undefined },
    { what: 'a spare being reset (no user)', desktops: [d('p-1', 'resetting', null)], expect: undefined },
    { what: 'a live session', desktops: [d('p-1', 'in-use', 'dora')], expect: undefined },
    { what: 'ended, back as a spare', desktops: [d('p-1', 'ready', null), d('p-2', 'logging-off', 'dora')], expect: 'p-2' },
  ];
  for (const c of cases) assert.equal(endingSessionOf(c.desktops, 'dora')?.name, c.expect, c.what);
});

test('a connect waits for the logoff to end, through logging-off and resetting, then goes on', async () => {
  const machine = new EventEmitter() as unknown as DesktopMachine;
  let now: ReturnType<typeof d>[] = [d('p-1', 'logging-off', 'dora')];
  const waited = untilPreviousSessionEnded(machine, async () => now, 'dora', Date.now() + 60_000);
  const view = (state: DesktopState, user: string | null): DesktopView => ({ name: 'p-1', pool: 'p', state, user, host: null, imageVersion: 1, since: '' });
  await new Promise((r) => setImmediate(r));
  now = [d('p-1', 'resetting', 'dora')];
  machine.emit('desktop', view('resetting', 'dora'), { lastError: null });
  await new Promise((r) => setImmediate(r));
  now = [d('p-1', 'stopped', null)];
  machine.emit('desktop', view('stopped', null), { lastError: null });
  const result = await waited;
  assert.equal(result?.desktop, 'p-1');
  assert.ok(result!.ms >= 0);
});

test('nothing ending: no wait; a session that never ends: the wait stops at the deadline', async () => {
  const machine = new EventEmitter() as unknown as DesktopMachine;
  assert.equal(await untilPreviousSessionEnded(machine, async () => [d('p-1', 'in-use', 'dora')], 'dora', Date.now() + 60_000), undefined);
  const stuck = await untilPreviousSessionEnded(machine, async () => [d('p-1', 'logging-off', 'dora')], 'dora', Date.now() + 50);
  assert.equal(stuck?.desktop, 'p-1');
});
