import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { DESKTOP_STATES } from '../contract/pools.js';
import type { LoginService } from '../auth/login.js';
import type { PoolService } from '../desktops/pools.js';
import { openStore } from '../store/db.js';
import { ksmReportOf } from '../hypervisor/host/ksm.js';
import { DaemonMetrics, type DesktopCount, desktopGauges } from './metrics.js';

const c = (pool: string, state: DesktopCount['state'], count: number, owned = 0): DesktopCount => ({ pool, state, count, owned });

test('desktop gauges: counts by pool and state, zeros for every state of every pool', () => {
  const g = desktopGauges([{ name: 'office', warmSpares: 2 }, { name: 'empty', warmSpares: 0 }], [
    c('office', 'ready', 2, 1), // a persistent owner's idle desktop is not a spare
    c('office', 'in-use', 1, 1),
    c('office', 'booting', 1),
    c('lab', 'booting', 1), // a pool missing from the list still counts
  ]);
  const of = (pool: string, state: string) => g.byPoolState.find((x) => x.pool === pool && x.state === state)?.count;
  assert.equal(g.byPoolState.length, 3 * DESKTOP_STATES.length);
  assert.equal(of('office', 'ready'), 2);
  assert.equal(of('office', 'in-use'), 1);
  assert.equal(of('office', 'failed'), 0);
  assert.equal(of('empty', 'ready'), 0);
  assert.equal(of('lab', 'booting'), 1);
  assert.deepEqual(g.warmSpares, [
    { pool: 'empty', count: 0, target: 0 },
    { pool: 'lab', count: 0, target: 0 },
    { pool: 'office', count: 1, target: 2 },
  ]);
  assert.equal(g.bootsInFlight, 2);
});

test('desktop gauges of nothing: no series, no boots', () => {
  assert.deepEqual(desktopGauges([], []), { byPoolState: [], warmSpares: [], bootsInFlight: 0 });
});

/** The events DaemonMetrics listens to, without a real pool service. */
function fakePools(): PoolService {
  return Object.assign(new EventEmitter(), { opts: { bootStormLimit: 3 } }) as unknown as PoolService;
}

const sample = (text: string, name: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
};

test('counters and the histogram follow the service events; store gauges read an empty store', async () => {
  const store = await openStore(':memory:');
  try {
    const pools = fakePools();
    const login = new EventEmitter() as unknown as LoginService;
    const metrics = new DaemonMetrics({ store, pools, ksm: async () => ksmReportOf({ run: '1\n', pages_sharing: '2560\n', full_scans: '7\n' }, 4096, true) });
    metrics.observeLogins(login);
    const before = await metrics.render();
    assert.equal(sample(before, 'ardesia_logins_total{result="failed"}'), 0, 'every login result is there from the start');
    assert.equal(sample(before, 'ardesia_boots_in_flight'), 0);
    assert.equal(sample(before, 'ardesia_boot_storm_limit'), 3);
    assert.match(before, /^process_cpu_user_seconds_total /m, 'default process metrics');
    assert.equal(sample(before, 'ardesia_ksm_enabled'), 1);
    assert.equal(sample(before, 'ardesia_ksm_saved_bytes'), 2560 * 4096, 'pages_sharing × the page size');
    assert.equal(sample(before, 'ardesia_ksm_full_scans'), 7);

    login.emit('login', 'ok');
    login.emit('login', 'ok');
    login.emit('login', 'rate-limited');
    pools.emit('brokered', 'warm');
    pools.emit('session-ready', { pool: 'office', desktop: 'office-1', user: 'alice', how: 'warm', seconds: 0.8 });
    pools.emit('session-ready', { pool: 'office', desktop: 'office-2', user: 'bob', how: 'warm', seconds: 1.5 });
    const after = await metrics.render();
    assert.equal(sample(after, 'ardesia_logins_total{result="ok"}'), 2);
    assert.equal(sample(after, 'ardesia_logins_total{result="rate-limited"}'), 1);
    assert.equal(sample(after, 'ardesia_broker_decisions_total{kind="warm"}'), 1);
    assert.equal(sample(after, 'ardesia_login_to_ready_seconds_bucket{le="1",pool="office",how="warm"}'), 1);
    assert.equal(sample(after, 'ardesia_login_to_ready_seconds_bucket{le="2",pool="office",how="warm"}'), 2);
    assert.equal(sample(after, 'ardesia_login_to_ready_seconds_count{pool="office",how="warm"}'), 2);
    assert.deepEqual(await metrics.health(), { ok: true, store: 'reachable' });
  } finally {
    await store.destroy();
  }
});

test('health says STORE_UNREACHABLE when the store is gone', async () => {
  const store = await openStore(':memory:');
  const metrics = new DaemonMetrics({ store, pools: fakePools(), ksm: async () => ksmReportOf({}, 4096, false) });
  await store.destroy();
  await assert.rejects(metrics.health(), (err: { code?: string }) => err.code === 'STORE_UNREACHABLE');
});
