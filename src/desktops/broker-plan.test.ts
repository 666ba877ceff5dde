import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DesktopState, type DesktopView, Pool, type PoolInput, type SessionView } from '../contract/pools.js';
import { type BrokerDecision, type BrokerRequest, type BrokerView, brokerDecide, brokerDecideMany } from './broker-plan.js';

const pool = (over: Partial<PoolInput> = {}): Pool =>
  Pool.parse({ name: 'lab', image: 'deb', maxDesktops: 5, warmSpares: 2, entitled: { users: ['ann', 'bob'], groups: ['staff'] }, ...over });

let clock = 0;
const d = (n: number, state: DesktopState, user: string | null = null, over: Partial<DesktopView> = {}): DesktopView => ({
  name: `lab-${n}`,
  pool: 'lab',
  state,
  user,
  host: 'h1',
  imageVersion: 3,
  since: `2024-01-01T00:00:${String(10 + (clock++ % 50)).padStart(2, '0')}Z`,
  ...over,
});

const view = (desktops: DesktopView[], over: Partial<BrokerView> = {}): BrokerView => ({
  pool: pool(),
  targetVersion: 3,
  desktops,
  sessions: [],
  bootsInFlight: 0,
  bootStormLimit: 4,
  ...over,
});
const ann: BrokerRequest = { user: 'ann', groups: [], pool: 'lab' };
const req = (user: string, groups: string[] = []): BrokerRequest => ({ user, groups, pool: 'lab' });

/** The decision without the desktop's details: kind plus desktop name (or refusal code). */
function summary(decision: BrokerDecision): string {
  switch (decision.kind) {
    case 'refuse':
      return `refuse ${decision.code}`;
    case 'clone':
      return `clone ${decision.name}`;
    default:
      return `${decision.kind} ${decision.desktop.name}`;
  }
}

const at = (s: string) => ({ since: s });
const T1 = '2024-01-01T00:00:01Z';
const T2 = '2024-01-01T00:00:02Z';

const CASES: Array<[string, BrokerRequest, BrokerView, string]> = [
  ['own session desktop first, over a warm spare', ann, view([d(1, 'ready'), d(2, 'in-use', 'ann')]), 'existing lab-2'],
  ['own disconnected desktop is resumed', ann, view([d(1, 'ready'), d(2, 'disconnected', 'ann')]), 'existing lab-2'],
  ['own reserved booting desktop is the same desktop', ann, view([d(1, 'ready'), d(2, 'booting', 'ann')]), 'existing lab-2'],
  ['persistent owner gets their ready desktop back', ann, view([d(1, 'ready'), d(2, 'ready', 'ann')], { pool: pool({ persistent: true }) }), 'existing lab-2'],
  ['persistent owner’s stopped desktop is started', ann, view([d(1, 'ready'), d(2, 'stopped', 'ann')], { pool: pool({ persistent: true }) }), 'cold-start lab-2'],
  ['own desktop still logging off: try again', ann, view([d(1, 'ready'), d(2, 'logging-off', 'ann')]), 'refuse POOL_DESKTOP_BUSY'],
  ['own desktop being reset: try again', ann, view([d(1, 'ready'), d(2, 'resetting', 'ann')], { pool: pool({ persistent: true }) }), 'refuse POOL_DESKTOP_BUSY'],
  ['warm spare, never someone else’s', ann, view([d(1, 'in-use', 'bob'), d(2, 'ready', 'bob'), d(3, 'ready')]), 'warm lab-3'],
  ['oldest ready spare first', ann, view([d(1, 'ready', null, at(T2)), d(2, 'ready', null, at(T1))]), 'warm lab-2'],
  ['same age: by name', ann, view([d(2, 'ready', null, at(T1)), d(1, 'ready', null, at(T1))]), 'warm lab-1'],
  ['a current-version spare before an older, outdated one', ann, view([d(1, 'ready', null, { ...at(T1), imageVersion: 2 }), d(2, 'ready', null, at(T2))]), 'warm lab-2'],
  ['an outdated spare rather than nothing', ann, view([d(1, 'ready', null, { imageVersion: 2 })]), 'warm lab-1'],
  ['a booting spare before a cold one', ann, view([d(1, 'stopped'), d(2, 'booting')]), 'warm lab-2'],
  ['no warm spare: a cold one is started', ann, view([d(1, 'stopped'), d(2, 'in-use', 'bob')]), 'cold-start lab-1'],
  ['no spare at all: a new clone with the first free name', ann, view([d(1, 'in-use', 'bob'), d(3, 'failed')]), 'clone lab-2'],
  ['entitled through a group', req('cat', ['staff']), view([d(1, 'ready')]), 'warm lab-1'],
  ['not entitled', req('eve', ['guests']), view([d(1, 'ready')]), 'refuse POOL_NOT_ENTITLED'],
  ['not entitled even with a desktop left over', req('eve'), view([d(1, 'in-use', 'eve')]), 'refuse POOL_NOT_ENTITLED'],
  ['home in use in another pool', ann, view([d(1, 'ready')], { sessions: [{ user: 'ann', pool: 'office', desktop: 'office-4' } satisfies SessionView] }), 'refuse HOME_LEASED'],
  ['a session of someone else elsewhere does not matter', ann, view([d(1, 'ready')], { sessions: [{ user: 'bob', pool: 'office', desktop: 'office-4' }] }), 'warm lab-1'],
  ['pool at max', ann, view([1, 2, 3, 4, 5].map((n) => d(n, 'in-use', `u${n}`))), 'refuse POOL_FULL'],
  ['retiring desktops do not count towards max', ann, view([1, 2, 3, 4].map((n) => d(n, 'in-use', `u${n}`)).concat(d(5, 'retiring'))), 'clone lab-6'],
  ['per-user limit: own desktop failed', ann, view([d(1, 'failed', 'ann'), d(2, 'ready')], { pool: pool({ persistent: true }) }), 'refuse POOL_USER_LIMIT'],
  ['per-user limit 2 leaves room for a second', ann, view([d(1, 'failed', 'ann'), d(2, 'ready')], { pool: pool({ persistent: true, maxDesktopsPerUser: 2 }) }), 'warm lab-2'],
  ['boot storm blocks a cold start', ann, view([d(1, 'stopped')], { bootsInFlight: 4 }), 'refuse POOL_BOOT_STORM'],
  ['boot storm blocks a clone', ann, view([], { bootsInFlight: 5 }), 'refuse POOL_BOOT_STORM'],
  ['boot storm does not block a warm spare', ann, view([d(1, 'ready')], { bootsInFlight: 9 }), 'warm lab-1'],
  ['restore pool: a cold spare restores, the boot storm does not hold it back', ann, view([d(1, 'stopped')], { bootsInFlight: 4, restores: true }), 'cold-start lab-1'],
  ['restore pool: a new clone restores too', ann, view([], { bootsInFlight: 4, restores: true }), 'clone lab-1'],
  ['restore pool: a persistent owner’s kept disk boots, so the storm holds it', ann, view([d(1, 'stopped', 'ann')], { pool: pool({ persistent: true }), bootsInFlight: 4, restores: true }), 'refuse POOL_BOOT_STORM'],
  ['restore pool, persistent but reset at logoff: the owner’s disk restores', ann, view([d(1, 'stopped', 'ann')], { pool: pool({ persistent: true, onLogoff: 'reset' }), bootsInFlight: 4, restores: true }), 'cold-start lab-1'],
  ['image missing: no clone', ann, view([], { targetVersion: null }), 'refuse IMAGE_NO_VERSION'],
  ['image missing does not block a spare', ann, view([d(1, 'stopped')], { targetVersion: null }), 'cold-start lab-1'],
  // A host whose link is gone: its spares are not handed out; a session there is still the user's (it runs on).
  ['a spare on a cut-off host is passed over', ann, view([d(1, 'ready', null, { host: 'h2' }), d(2, 'ready', null, { host: 'h1' })], { unreachableHosts: new Set(['h2']) }), 'warm lab-2'],
  ['only spares on a cut-off host: a cold one elsewhere', ann, view([d(1, 'ready', null, { host: 'h2' }), d(2, 'booting', null, { host: 'h2' }), d(3, 'stopped', null, { host: null })], { unreachableHosts: new Set(['h2']) }), 'cold-start lab-3'],
  ['own session on a cut-off host: the same desktop', ann, view([d(1, 'in-use', 'ann', { host: 'h2' }), d(2, 'ready')], { unreachableHosts: new Set(['h2']) }), 'existing lab-1'],
  ['a persistent owner’s desktop assigned on a cut-off host, its session not started: not now', ann, view([d(1, 'assigned', 'ann', { host: 'h2' }), d(2, 'ready')], { pool: pool({ persistent: true }), unreachableHosts: new Set(['h2']) }), 'refuse DESKTOP_HOST_UNREACHABLE'],
  ['a persistent owner’s ready desktop on a cut-off host: not now', ann, view([d(1, 'ready', 'ann', { host: 'h2' }), d(2, 'ready')], { pool: pool({ persistent: true }), unreachableHosts: new Set(['h2']) }), 'refuse DESKTOP_HOST_UNREACHABLE'],
  ['a spare on a host whose agent is not ready yet (joining the lockspace) is passed over', ann, view([d(1, 'ready', null, { host: 'h2' }), d(2, 'ready', null, { host: 'h1' })], { notReadyHosts: new Set(['h2']) }), 'warm lab-2'],
  ['only spares on a host not ready: a cold one elsewhere', ann, view([d(1, 'ready', null, { host: 'h2' }), d(2, 'booting', null, { host: 'h2' }), d(3, 'stopped', null, { host: null })], { notReadyHosts: new Set(['h2']) }), 'cold-start lab-3'],
  ['own session on a host not ready: the same desktop (it is reported once its agent is)', ann, view([d(1, 'in-use', 'ann', { host: 'h2' }), d(2, 'ready')], { notReadyHosts: new Set(['h2']) }), 'existing lab-1'],
  // Desktops this connect gave up (their session could not start): not the user's own now, never handed out again.
  ['a given-up spare whose reset waits for its host does not make the user wait: another spare', { ...ann, givenUp: ['lab-1'] }, view([d(1, 'resetting', 'ann', { host: 'h2' }), d(2, 'ready')]), 'warm lab-2'],
  ['the same, not given up: the user’s desktop is being reset', ann, view([d(1, 'resetting', 'ann', { host: 'h2' }), d(2, 'ready')]), 'refuse POOL_DESKTOP_BUSY'],
  ['a given-up spare that failed counts for neither the per-user limit nor as theirs', { ...ann, givenUp: ['lab-1'] }, view([d(1, 'failed', 'ann'), d(2, 'booting')]), 'warm lab-2'],
  ['a given-up desktop back among the spares is not handed out again in the same connect', { ...ann, givenUp: ['lab-1'] }, view([d(1, 'ready'), d(2, 'stopped')]), 'cold-start lab-2'],
  ['a given-up desktop still counts towards the pool’s size', { ...ann, givenUp: ['lab-5'] }, view([1, 2, 3, 4].map((n) => d(n, 'in-use', `u${n}`)).concat(d(5, 'resetting', 'ann'))), 'refuse POOL_FULL'],
];

for (const [name, request, v, expected] of CASES) {
  test(`broker: ${name}`, () => {
    assert.equal(summary(brokerDecide(request, v)), expected);
  });
}

test('a full pool says how many of its desktops are being reset (spares again soon)', () => {
  const full = brokerDecide(ann, view([1, 2, 3].map((n) => d(n, 'in-use', `u${n}`)).concat(d(4, 'resetting'), d(5, 'resetting'))));
  assert.ok(full.kind === 'refuse' && full.code === 'POOL_FULL', JSON.stringify(full));
  assert.match(full.message, /^all 5 desktops of pool lab are taken and none is spare \(2 of them are being reset and come back as spares\): try again later$/);
  const one = brokerDecide(ann, view([1, 2, 3, 4].map((n) => d(n, 'in-use', `u${n}`)).concat(d(5, 'resetting'))));
  assert.match(one.kind === 'refuse' ? one.message : '', /\(1 of them is being reset and comes back as a spare\)/);
});

test('refusal messages say what to do', () => {
  const storm = brokerDecide(ann, view([d(1, 'stopped')], { bootsInFlight: 4 }));
  assert.ok(storm.kind === 'refuse' && /try again in a moment/.test(storm.message), JSON.stringify(storm));
  const image = brokerDecide(ann, view([], { targetVersion: null }));
  assert.ok(image.kind === 'refuse' && /image deb has no published version/.test(image.message), JSON.stringify(image));
  const home = brokerDecide(ann, view([], { sessions: [{ user: 'ann', pool: 'office', desktop: 'office-4' }] }));
  assert.ok(home.kind === 'refuse' && /office-4 of pool office: log off there first/.test(home.message), JSON.stringify(home));
});

test('a request for another pool is a programming error', () => {
  assert.throws(() => brokerDecide({ ...ann, pool: 'other' }, view([])), RangeError);
});

test('many requests at once never share a spare and respect the limits', () => {
  const v = view([d(1, 'ready', null, at(T1)), d(2, 'stopped', null, at(T1)), d(3, 'in-use', 'u3')], { bootsInFlight: 2, bootStormLimit: 4 });
  const decisions = brokerDecideMany([req('ann'), req('bob'), req('cat', ['staff']), req('dan', ['staff']), req('eve', ['staff'])], v);
  assert.deepEqual(decisions.map(summary), ['warm lab-1', 'cold-start lab-2', 'clone lab-4', 'refuse POOL_BOOT_STORM', 'refuse POOL_BOOT_STORM']);
});

test('restores at once are not boots: they take none of the storm budget', () => {
  const v = view([d(1, 'stopped', null, at(T1)), d(2, 'stopped', null, at(T2))], { bootsInFlight: 3, bootStormLimit: 4, restores: true });
  const decisions = brokerDecideMany([req('ann'), req('bob'), req('cat', ['staff']), req('dan', ['staff'])], v);
  assert.deepEqual(decisions.map(summary), ['cold-start lab-1', 'cold-start lab-2', 'clone lab-3', 'clone lab-4']);
  const booted = brokerDecideMany([req('ann'), req('bob')], { ...v, restores: false });
  assert.deepEqual(booted.map(summary), ['cold-start lab-1', 'refuse POOL_BOOT_STORM'], 'the same pool booting: one boot left in the budget');
});

test('the same user twice at once gets the same desktop', () => {
  const fromWarm = brokerDecideMany([ann, ann], view([d(1, 'ready'), d(2, 'ready')]));
  assert.deepEqual(fromWarm.map(summary), ['warm lab-1', 'existing lab-1']);
  const fromClone = brokerDecideMany([ann, ann], view([]));
  assert.deepEqual(fromClone.map(summary), ['clone lab-1', 'existing lab-1']);
});

test('many requests fill the pool up to max and no further', () => {
  const users = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7'].map((u) => req(u, ['staff']));
  const decisions = brokerDecideMany(users, view([d(1, 'ready')], { bootStormLimit: 100 }));
  assert.deepEqual(decisions.map(summary), ['warm lab-1', 'clone lab-2', 'clone lab-3', 'clone lab-4', 'clone lab-5', 'refuse POOL_FULL', 'refuse POOL_FULL']);
});

test('planning does not change the view it was given', () => {
  const v = view([d(1, 'ready'), d(2, 'stopped')]);
  const before = JSON.stringify(v);
  brokerDecideMany([req('ann'), req('bob'), req('cat', ['staff'])], v);
  assert.equal(JSON.stringify(v), before);
});
