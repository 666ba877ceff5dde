import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DesktopState, type DesktopView, Pool, type PoolInput } from '../contract/pools.js';
import { isInSession } from './lifecycle.js';
import { FAILED_RETRY_MAX_MS, FAILED_RETRY_MS, failedRetryDelayMs, nextDesktopNames, retriesStillCounted, planSpares, rolloutPendingAtLogoff, type SpareAction, versionCounts } from './spares-plan.js';

const pool = (over: Partial<PoolInput> = {}): Pool => Pool.parse({ name: 'lab', image: 'deb', maxDesktops: 6, warmSpares: 2, coldSpares: 1, ...over });

const d = (n: number, state: DesktopState, user: string | null = null, imageVersion = 3): DesktopView => ({
  name: `lab-${n}`,
  pool: 'lab',
  state,
  user,
  host: null,
  imageVersion,
  since: `2024-01-01T00:00:${String(n).padStart(2, '0')}Z`, // lab-1 is the oldest
});

/** Before every desktop's `since`: nothing has been failed long enough to be retried. */
const T0 = Date.parse('2024-01-01T00:00:00Z');

const show = (actions: SpareAction[]): string[] => actions.map((a) => (a.kind === 'create' ? `create ${a.name}` : a.kind === 'retire' ? `retire ${a.desktop} ${a.reason}` : `${a.kind} ${a.desktop}`));

const CASES: Array<[string, Pool, DesktopView[], number | null, number, number, string[]]> = [
  ['empty pool: clones for warm + cold, landing cold', pool(), [], 3, 0, 4, ['create lab-1', 'create lab-2', 'create lab-3']],
  ['cold ones booted into warm, oldest first', pool(), [d(1, 'stopped'), d(2, 'stopped'), d(3, 'stopped')], 3, 0, 4, ['boot lab-1', 'boot lab-2']],
  ['boot-storm limit: one boot left in the budget', pool(), [d(1, 'stopped'), d(2, 'stopped'), d(3, 'stopped')], 3, 3, 4, ['boot lab-1']],
  ['boot-storm limit reached: no boot', pool(), [d(1, 'stopped'), d(2, 'stopped'), d(3, 'stopped')], 3, 5, 4, []],
  ['targets met: nothing to do', pool(), [d(1, 'ready'), d(2, 'booting'), d(3, 'stopped'), d(4, 'in-use', 'ann')], 3, 0, 4, []],
  ['in-flight desktops count as spares', pool(), [d(1, 'provisioning'), d(2, 'resetting'), d(3, 'booting')], 3, 0, 4, []],
  ['a spare handed out is replaced', pool(), [d(1, 'assigned', 'ann'), d(2, 'ready'), d(3, 'stopped')], 3, 0, 4, ['boot lab-3', 'create lab-4']],
  ['min above spares: extra clones stay cold', pool({ minDesktops: 5, warmSpares: 1, coldSpares: 0 }), [d(1, 'ready')], 3, 0, 4, ['create lab-2', 'create lab-3', 'create lab-4', 'create lab-5']],
  ['creates capped by max', pool({ maxDesktops: 4 }), [d(1, 'in-use', 'a'), d(2, 'in-use', 'b'), d(3, 'ready')], 3, 0, 4, ['create lab-4']],
  ['surplus spares retired, newest cold first then warm', pool({ warmSpares: 1, coldSpares: 0 }), [d(1, 'ready'), d(2, 'ready'), d(3, 'stopped')], 3, 0, 4, ['retire lab-3 surplus', 'retire lab-2 surplus']],
  ['surplus kept while under min', pool({ warmSpares: 0, coldSpares: 0, minDesktops: 2 }), [d(1, 'stopped'), d(2, 'stopped'), d(3, 'stopped')], 3, 0, 4, ['retire lab-3 surplus']],
  ['above max (lowered): spares retired, in-use never', pool({ maxDesktops: 3, warmSpares: 1, coldSpares: 0 }), [d(1, 'in-use', 'a'), d(2, 'in-use', 'b'), d(3, 'disconnected', 'c'), d(4, 'ready'), d(5, 'ready')], 3, 0, 4, ['retire lab-5 above-max', 'retire lab-4 above-max']],
  ['too many warm, too few cold: the newest warm go cold', pool({ warmSpares: 1, coldSpares: 2 }), [d(1, 'ready'), d(2, 'ready'), d(3, 'ready')], 3, 0, 4, ['stop lab-3', 'stop lab-2']],
  ['a spare back from its session reset does not push out the warm one: nothing goes until it lands', pool({ warmSpares: 1, coldSpares: 0, maxDesktops: 2 }), [d(1, 'resetting'), d(2, 'ready')], 3, 0, 4, []],
  ['... then the landed one is the surplus', pool({ warmSpares: 1, coldSpares: 0, maxDesktops: 2 }), [d(1, 'stopped'), d(2, 'ready')], 3, 0, 4, ['retire lab-1 surplus']],
  // A desktop back from its session reset while a warm spare is up: the spare stays, the returned one is the surplus.
  ['returned while the warm spare is still booting: the returned one retired once landed', pool({ warmSpares: 1, coldSpares: 0, maxDesktops: 2 }), [d(2, 'booting'), d(3, 'stopped')], 3, 0, 4, ['retire lab-3 surplus']],
  ['returned beside a cold spare and a warm one: the newest cold (the returned one) goes', pool({ warmSpares: 1, coldSpares: 1, maxDesktops: 3 }), [d(1, 'stopped'), d(2, 'ready'), d(3, 'stopped')], 3, 0, 4, ['retire lab-3 surplus']],
  ['returned into a warm tier that wants it: booted, not retired', pool({ warmSpares: 2, coldSpares: 0, maxDesktops: 3 }), [d(1, 'stopped'), d(2, 'ready')], 3, 0, 4, ['boot lab-1']],
  ['returned while min holds it: kept cold, no boot', pool({ warmSpares: 1, coldSpares: 0, minDesktops: 2, maxDesktops: 2 }), [d(1, 'stopped'), d(2, 'ready')], 3, 0, 4, []],
  ['surplus beyond what the landing one covers: that many ready go now', pool({ warmSpares: 0, coldSpares: 0 }), [d(1, 'resetting'), d(2, 'ready'), d(3, 'ready')], 3, 0, 4, ['retire lab-3 surplus', 'retire lab-2 surplus']],
  ['max lowered while one lands: one ready goes now, the landing one later', pool({ warmSpares: 1, coldSpares: 0, maxDesktops: 1 }), [d(1, 'resetting'), d(2, 'ready'), d(3, 'ready')], 3, 0, 4, ['retire lab-3 above-max']],
  ['a new clone landing counts like a returned one', pool({ warmSpares: 1, coldSpares: 0, maxDesktops: 2 }), [d(1, 'provisioning'), d(2, 'ready')], 3, 0, 4, []],
  ['rolling update: returned onto the new version beside a current warm spare: nothing until it lands', pool({ warmSpares: 1, coldSpares: 0, maxDesktops: 3 }), [d(1, 'resetting', null, 4), d(2, 'ready', null, 4)], 4, 0, 4, []],
  ['rolling update: ... then the returned one is retired, the warm spare kept', pool({ warmSpares: 1, coldSpares: 0, maxDesktops: 3 }), [d(1, 'stopped', null, 4), d(2, 'ready', null, 4)], 4, 0, 4, ['retire lab-1 surplus']],
  ['rolling update: an outdated warm spare goes before a current returned one is booted in its place', pool({ warmSpares: 1, coldSpares: 0, maxDesktops: 3 }), [d(1, 'resetting', null, 4), d(2, 'ready', null, 3)], 4, 0, 4, ['retire lab-2 surplus']],
  ['a booting spare is never stopped or retired', pool({ warmSpares: 0, coldSpares: 0 }), [d(1, 'booting')], 3, 0, 4, []],
  ['failed and owned desktops are left alone', pool({ warmSpares: 1, coldSpares: 0 }), [d(1, 'failed'), d(2, 'stopped', 'ann'), d(3, 'ready')], 3, 0, 4, []],
  ['image missing: boots go on, no clone', pool(), [d(1, 'stopped')], null, 0, 4, ['boot lab-1']],
  ['retiring desktops are neither counted nor named again', pool({ warmSpares: 1, coldSpares: 0 }), [d(1, 'retiring')], 3, 0, 4, ['create lab-2']],
];

test('spares: a failed spare is re-cloned after FAILED_RETRY_MS, one with a user never; not without an image', () => {
  const failedAt = Date.parse(d(1, 'failed').since);
  const desktops = [d(1, 'failed'), d(2, 'failed', 'ann'), d(3, 'ready')];
  const p = pool({ warmSpares: 1, coldSpares: 0 });
  assert.deepEqual(show(planSpares(p, desktops, 3, 0, 4, failedAt + FAILED_RETRY_MS - 1)), []);
  assert.deepEqual(show(planSpares(p, desktops, 3, 0, 4, failedAt + FAILED_RETRY_MS)), ['retry lab-1']);
  assert.deepEqual(show(planSpares(p, desktops, null, 0, 4, failedAt + FAILED_RETRY_MS)), []);
});

test('spares: a spare that failed again after its retries waits twice as long each time, an hour at most', () => {
  const failedAt = Date.parse(d(1, 'failed').since);
  const desktops = [d(1, 'failed'), { ...d(2, 'failed'), since: d(1, 'failed').since }, d(3, 'ready')];
  const p = pool({ warmSpares: 1, coldSpares: 0 });
  const retries = (counts: Record<string, number>) => (name: string) => counts[name] ?? 0;
  const cases: Array<[number, Record<string, number>, string[]]> = [
    [FAILED_RETRY_MS, {}, ['retry lab-1', 'retry lab-2']],
    [FAILED_RETRY_MS, { 'lab-1': 1 }, ['retry lab-2']],
    [2 * FAILED_RETRY_MS - 1, { 'lab-1': 1 }, ['retry lab-2']],
    [2 * FAILED_RETRY_MS, { 'lab-1': 1 }, ['retry lab-1', 'retry lab-2']],
    [8 * FAILED_RETRY_MS - 1, { 'lab-1': 3, 'lab-2': 2 }, ['retry lab-2']],
    [FAILED_RETRY_MAX_MS - 1, { 'lab-1': 40, 'lab-2': 40 }, []],
    [FAILED_RETRY_MAX_MS, { 'lab-1': 40, 'lab-2': 40 }, ['retry lab-1', 'retry lab-2']],
  ];
  for (const [after, counts, expected] of cases) {
    assert.deepEqual(show(planSpares(p, desktops, 3, 0, 4, failedAt + after, false, retries(counts))), expected, `${after} ms after, retries ${JSON.stringify(counts)}`);
  }
  assert.deepEqual([0, 1, 2, 3, 4, 5, 1000].map(failedRetryDelayMs), [5, 10, 20, 40, 60, 60, 60].map((m) => m * 60_000));
});

test('spares: a retry count holds while the spare is not ready yet; ready, in a session or gone, it starts again', () => {
  const counts = new Map([['lab-1', 2], ['lab-2', 1], ['lab-3', 3], ['lab-4', 1], ['lab-9', 4]]);
  const desktops = [d(1, 'failed'), d(2, 'booting'), d(3, 'ready'), d(4, 'in-use', 'ann')];
  assert.deepEqual([...retriesStillCounted(counts, desktops)], [['lab-1', 2], ['lab-2', 1]]);
});

test('spares: a restore pool starts every missing warm spare at once, whatever the boots in flight', () => {
  const desktops = [d(1, 'stopped'), d(2, 'stopped'), d(3, 'stopped')];
  const p = pool({ warmSpares: 3, coldSpares: 0 });
  assert.deepEqual(show(planSpares(p, desktops, 3, 4, 4, T0)), [], 'booting: the storm budget is spent');
  assert.deepEqual(show(planSpares(p, desktops, 3, 4, 4, T0, true)), ['boot lab-1', 'boot lab-2', 'boot lab-3']);
});

for (const [name, p, desktops, version, inFlight, limit, expected] of CASES) {
  test(`spares: ${name}`, () => {
    assert.deepEqual(show(planSpares(p, desktops, version, inFlight, limit, T0)), expected);
  });
}

test('rolling update: publish → spares replaced at once, desktops in session marked for their next logoff', () => {
  const desktops = [d(1, 'ready'), d(2, 'ready'), d(3, 'stopped'), d(4, 'in-use', 'ann'), d(5, 'disconnected', 'bob')];
  assert.deepEqual(show(planSpares(pool(), desktops, 3, 0, 4, T0)), [], 'steady before the publish');
  assert.deepEqual(show(planSpares(pool(), desktops, 4, 0, 4, T0)), ['recycle lab-1', 'recycle lab-2', 'recycle lab-3']);
  assert.deepEqual(rolloutPendingAtLogoff(pool(), desktops, 4), ['lab-4', 'lab-5']);
  assert.deepEqual(versionCounts(desktops), [{ version: 3, count: 5 }]);
  const during = [d(1, 'resetting', null, 4), d(2, 'stopped', null, 4), d(3, 'booting', null, 4), d(4, 'in-use', 'ann'), d(5, 'resetting', null, 4)];
  assert.deepEqual(versionCounts(during), [{ version: 3, count: 1 }, { version: 4, count: 4 }]);
  assert.deepEqual(rolloutPendingAtLogoff(pool(), during, 4), ['lab-4']);
});

test('rolling update with a surplus retires outdated spares instead of re-cloning them', () => {
  const desktops = [d(1, 'ready', null, 3), d(2, 'ready', null, 4), d(3, 'stopped', null, 4), d(4, 'ready', null, 4)];
  assert.deepEqual(show(planSpares(pool(), desktops, 4, 0, 4, T0)), ['retire lab-1 surplus']);
});

test('rolling update of persistent pools follows onLogoff', () => {
  const owned = [d(1, 'stopped', 'ann'), d(2, 'ready', 'bob'), d(3, 'in-use', 'cat'), d(4, 'ready'), d(5, 'ready'), d(6, 'stopped')];
  const keep = pool({ persistent: true });
  assert.deepEqual(show(planSpares(keep, owned, 4, 0, 4, T0)), ['recycle lab-4', 'recycle lab-5', 'recycle lab-6']);
  assert.deepEqual(rolloutPendingAtLogoff(keep, owned, 4), []);
  const untilUpdate = pool({ persistent: true, onLogoff: 'keep-until-update' });
  assert.deepEqual(show(planSpares(untilUpdate, owned, 4, 0, 4, T0)), ['recycle lab-1', 'recycle lab-2', 'recycle lab-4', 'recycle lab-5', 'recycle lab-6']);
  assert.deepEqual(rolloutPendingAtLogoff(untilUpdate, owned, 4), ['lab-3']);
});

test('desktop names fill gaps first', () => {
  assert.deepEqual(nextDesktopNames('lab', ['lab-1', 'lab-3', 'other-2'], 3), ['lab-2', 'lab-4', 'lab-5']);
  assert.deepEqual(nextDesktopNames('lab', [], 0), []);
});

/** Runs the shell's side of each action, as the lifecycle would end up after it. */
function simulate(desktops: DesktopView[], actions: SpareAction[], version: number, tick: number): DesktopView[] {
  const since = `2024-01-02T00:${String(Math.floor(tick / 60)).padStart(2, '0')}:${String(tick % 60).padStart(2, '0')}Z`;
  let out = desktops.map((x) => (x.state === 'booting' ? { ...x, state: 'ready' as const, since } : x));
  for (const a of actions) {
    if (a.kind === 'create') out.push({ name: a.name, pool: 'lab', state: 'stopped', user: null, host: null, imageVersion: version, since });
    else if (a.kind === 'retire') out = out.filter((x) => x.name !== a.desktop);
    else {
      const next: DesktopState = a.kind === 'boot' ? 'booting' : 'stopped';
      out = out.map((x) => (x.name === a.desktop ? { ...x, state: next, since, imageVersion: a.kind === 'recycle' ? version : x.imageVersion } : x));
    }
  }
  return out;
}

test('random pools converge to their targets without touching sessions', () => {
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const states: DesktopState[] = ['stopped', 'booting', 'ready', 'in-use', 'disconnected', 'assigned', 'failed', 'provisioning'];
  for (let round = 0; round < 200; round++) {
    const max = 1 + rand(10);
    const warm = rand(max + 1);
    const cold = rand(max - warm + 1);
    const p = pool({ maxDesktops: max, warmSpares: warm, coldSpares: cold, minDesktops: rand(max + 1) });
    let desktops = Array.from({ length: rand(12) }, (_, i) => {
      const state = states[rand(states.length)]!;
      return d(i + 1, state, isInSession(state) ? `u${i}` : null, 2 + rand(2));
    }).map((x) => (x.state === 'provisioning' ? { ...x, state: 'stopped' as const } : x));
    const sessions = desktops.filter((x) => isInSession(x.state)).map((x) => JSON.stringify(x));
    let actions: SpareAction[] = [];
    // Each tick: plan, run the actions, and every boot of the previous tick finishes.
    for (let tick = 0; tick < 30; tick++) {
      actions = planSpares(p, desktops, 3, desktops.filter((x) => x.state === 'booting').length, 2, T0);
      if (actions.length === 0 && !desktops.some((x) => x.state === 'booting')) break;
      desktops = simulate(desktops, actions, 3, tick);
    }
    const where = `round ${round}: ${JSON.stringify({ max, warm, cold, min: p.minDesktops })}`;
    assert.deepEqual(actions, [], `${where} did not converge`);
    for (const s of sessions) assert.ok(desktops.some((x) => JSON.stringify(x) === s), `${where}: a session desktop changed: ${s}`);
    const free = desktops.filter((x) => x.user === null && x.state !== 'failed');
    const busy = desktops.length - free.length;
    assert.ok(free.every((x) => x.imageVersion === 3), `${where}: an outdated spare is left`);
    assert.ok(desktops.length <= Math.max(max, busy), `${where}: above max`);
    assert.equal(free.filter((x) => x.state === 'ready').length, Math.min(warm, Math.max(0, max - busy)), `${where}: warm tier`);
    assert.ok(free.length === Math.min(Math.max(warm + cold, p.minDesktops - busy), Math.max(0, max - busy)), `${where}: ${free.length} spares`);
  }
});
