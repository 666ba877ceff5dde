import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { DesktopState, DesktopView } from '../contract/pools.js';
import type { DesktopMachine } from './pool-machine.js';
import { ArdesiaError } from '../contract/errors.js';
import { endingSessionOf, untilPreviousSessionEnded, untilSessionStarted } from './session-wait.js';

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

test('a desktop the connect gave up is not waited for; the next ending one is', () => {
  const given = [d('p-1', 'resetting', 'dora'), d('p-2', 'logging-off', 'dora')];
  assert.equal(endingSessionOf(given, 'dora', ['p-1'])?.name, 'p-2');
  assert.equal(endingSessionOf([d('p-1', 'resetting', 'dora')], 'dora', ['p-1']), undefined);
  assert.equal(endingSessionOf([d('p-1', 'resetting', 'dora')], 'dora', ['p-9'])?.name, 'p-1');
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

test("a connect waiting for its session: started, failed with the step's code, or given up at once when its host goes silent", async () => {
  const view = (state: DesktopState, user: string | null, host: string | null = 'a2'): DesktopView => ({ name: 'p-2', pool: 'p', state, user, host, imageVersion: 1, since: '' });
  const machine = new EventEmitter() as unknown as DesktopMachine;
  const read = (v: DesktopView) => async () => ({ view: v, lastError: null });
  const started = untilSessionStarted(machine, read(view('assigned', 'dora')), 'p-2', 'dora', 60_000);
  await new Promise((r) => setImmediate(r));
  machine.emit('host-unreachable', 'a1'); // another host: nothing to do with this desktop
  machine.emit('desktop', view('in-use', 'dora'), { lastError: null });
  assert.equal((await started).state, 'in-use');

  const leased = untilSessionStarted(machine, read(view('assigned', 'dora')), 'p-2', 'dora', 60_000);
  await new Promise((r) => setImmediate(r));
  machine.emit('desktop', view('resetting', 'dora'), { lastError: 'the home is leased elsewhere', lastErrorCode: 'HOME_LEASED' });
  await assert.rejects(leased, (e: ArdesiaError) => e.code === 'HOME_LEASED' && /the home is leased elsewhere/.test(e.message));

  const silent = untilSessionStarted(machine, read(view('booting', 'dora')), 'p-2', 'dora', 60_000);
  await new Promise((r) => setImmediate(r));
  machine.emit('host-unreachable', 'a2');
  await assert.rejects(silent, (e: ArdesiaError) => e.code === 'DESKTOP_HOST_UNREACHABLE' && /on host a2, which stopped answering the controller before your session started/.test(e.message));
  assert.equal((machine as unknown as EventEmitter).listenerCount('host-unreachable'), 0, 'every wait unsubscribed');

  const late = untilSessionStarted(machine, read(view('booting', 'dora')), 'p-2', 'dora', 50);
  await assert.rejects(late, (e: ArdesiaError) => e.code === 'TIMEOUT');
});
