// GET /metrics and /healthz over a real daemon: admins only, the metric names a scraper relies on, and
// the counters, gauges and the login-to-ready histogram moving after a real connect to a busybox desktop.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArdesiaError } from '../../src/contract/errors.js';
import { ApiClient } from '../../src/cli/client.js';
import type { TestDaemon } from '../helpers/daemon.js';
import { PASSWORD, poolTestbed, untilDesktops } from './support.js';

let daemon: TestDaemon;
let alice: ApiClient;
let bob: ApiClient;

poolTestbed([], (bed) => ({ daemon, alice, bob } = bed));

const scrape = () => daemon.api().request<string>('GET', '/metrics');

/** The value of one sample line (`name{labels} value`), undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (e instanceof ArdesiaError ? e.code : String(e)));

test('only administrators read /metrics; /healthz is public and reports the store', async () => {
  const anonymous = new ApiClient({ socketPath: daemon.socket });
  assert.equal(await codeOf(anonymous.request('GET', '/metrics')), 'UNAUTHENTICATED');
  assert.equal(await codeOf(alice.request('GET', '/metrics')), 'FORBIDDEN');
  assert.equal(await codeOf(bob.request('GET', '/metrics')), 'FORBIDDEN');
  assert.equal(typeof (await scrape()), 'string');
  // On PostgreSQL it also names the leader that answered (one controller here: this host, the first term).
  const health = await anonymous.request<{ ok: true; store: string; controller?: { holder: string; term: number } }>('GET', '/healthz');
  const leader = daemon.database === undefined ? {} : { controller: { holder: health.controller?.holder ?? 'missing', term: 1 } };
  assert.deepEqual(health, { ok: true, store: 'reachable', ...leader });
  if (daemon.database !== undefined) assert.match(health.controller!.holder, /^\S+$/);
});

test('the metric names are there, with HELP and TYPE lines', async () => {
  const text = await scrape();
  for (const [name, type] of [
    ['ardesia_desktops', 'gauge'],
    ['ardesia_warm_spares', 'gauge'],
    ['ardesia_warm_spares_target', 'gauge'],
    ['ardesia_boots_in_flight', 'gauge'],
    ['ardesia_boot_storm_limit', 'gauge'],
    ['ardesia_ksm_enabled', 'gauge'],
    ['ardesia_ksm_saved_bytes', 'gauge'],
    ['ardesia_ksm_full_scans', 'gauge'],
    ['ardesia_logins_total', 'counter'],
    ['ardesia_broker_decisions_total', 'counter'],
    ['ardesia_login_to_ready_seconds', 'histogram'],
    ['process_resident_memory_bytes', 'gauge'],
    ['nodejs_heap_size_used_bytes', 'gauge'],
  ]) {
    assert.match(text, new RegExp(`^# HELP ${name} `, 'm'), `${name} has help`);
    assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), `${name} is a ${type}`);
  }
  assert.equal(sample(text, 'ardesia_logins_total{result="ok"}'), 2, "alice's and bob's token logins");
});

test('a failed login and a connect move the counters, the gauges and the histogram', async () => {
  const anonymous = new ApiClient({ socketPath: daemon.socket });
  assert.equal(await codeOf(anonymous.request('POST', '/v1/auth/tokens', { user: 'alice', password: `${PASSWORD}-wrong` })), 'LOGIN_FAILED');
  await daemon.api().request('POST', '/v1/pools', {
    name: 'office', image: 'bb', warmSpares: 1, maxDesktops: 1, memoryMiB: 192, homeSizeBytes: 64 * 2 ** 20, entitled: { users: ['alice'] },
  });
  const [spare] = await untilDesktops(daemon, 'office', 'a warm spare', (ds) => ds.some((d) => d.state === 'ready'));
  const ready = await scrape();
  assert.equal(sample(ready, 'ardesia_logins_total{result="failed"}'), 1);
  assert.equal(sample(ready, 'ardesia_warm_spares{pool="office"}'), 1);
  assert.equal(sample(ready, 'ardesia_warm_spares_target{pool="office"}'), 1);
  assert.equal(sample(ready, 'ardesia_desktops{pool="office",state="ready"}'), 1);
  assert.equal(sample(ready, 'ardesia_desktops{pool="office",state="in-use"}'), 0);
  assert.equal(sample(ready, 'ardesia_login_to_ready_seconds_count{pool="office",how="warm"}'), undefined, 'no session yet');

  const got = await alice.request<{ desktop: { name: string; state: string } }>('POST', '/v1/pools/office/connect', {});
  assert.equal(got.desktop.name, spare!.name);
  assert.equal(got.desktop.state, 'in-use');
  const used = await scrape();
  assert.equal(sample(used, 'ardesia_broker_decisions_total{kind="warm"}'), 1);
  assert.equal(sample(used, 'ardesia_login_to_ready_seconds_count{pool="office",how="warm"}'), 1);
  const seconds = sample(used, 'ardesia_login_to_ready_seconds_sum{pool="office",how="warm"}');
  assert.ok(seconds !== undefined && seconds > 0, `a positive latency (${seconds})`);
  assert.equal(sample(used, 'ardesia_login_to_ready_seconds_bucket{le="+Inf",pool="office",how="warm"}'), 1);
  assert.equal(sample(used, 'ardesia_desktops{pool="office",state="in-use"}'), 1);
  assert.equal(sample(used, 'ardesia_warm_spares{pool="office"}'), 0, 'the spare was handed out (maxDesktops 1: none replaces it)');
});
