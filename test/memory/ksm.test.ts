// KSM through the real daemon on this machine's real /sys/kernel/mm/ksm: host show and GET report what the kernel
// says, `ardesia host ksm on|off` writes it, /metrics follows; the machine's settings are restored in a finally.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ArdesiaError } from '../../src/contract/errors.js';
import type { HostView, KsmReport } from '../../src/contract/hosts.js';
import { KSM_ON_PAGES_TO_SCAN, KSM_ON_SLEEP_MILLISECS, KSM_SYSFS_DIR } from '../../src/hypervisor/host/ksm.js';
import { openStore, storeLocation } from '../../src/store/db.js';
import { TestDaemon } from '../helpers/daemon.js';

const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (e: unknown) => (e instanceof ArdesiaError ? e.code : String(e)));
const sysfs = (file: string) => readFileSync(join(KSM_SYSFS_DIR, file), 'utf8').trim();
const HAS_KSM = existsSync(KSM_SYSFS_DIR);
let daemon: TestDaemon;
let own: string;

before(async () => {
  daemon = await TestDaemon.start();
  const hosts = await daemon.api().request<HostView[]>('GET', '/v1/hosts');
  own = hosts.find((h) => h.controller)!.name;
});
after(async () => {
  await daemon?.destroy();
});

test("host list and GET /v1/hosts/NAME/ksm report this machine's KSM as sysfs says", { skip: !HAS_KSM && 'this kernel has no KSM' }, async () => {
  const [view] = await daemon.api().request<HostView[]>('GET', '/v1/hosts');
  const report = await daemon.api().request<KsmReport>('GET', `/v1/hosts/${own}/ksm`);
  for (const k of [view!.ksm!, report]) {
    assert.equal(k.available, true);
    assert.equal(k.mode, { '0': 'off', '1': 'on', '2': 'unmerge' }[sysfs('run')]);
    assert.equal(k.pagesToScan, Number(sysfs('pages_to_scan')));
    assert.equal(k.pageSizeBytes, 4096);
    assert.equal(k.savedBytes, k.pagesSharing * 4096);
  }
  const shown = await daemon.cli(['host', 'show', own]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /memory +KSM (on|off|unmerge): [\d.]+ MiB saved/);
});

test('`ardesia host ksm on`, `off` and `unmerge` write sysfs through the daemon; /metrics and the audit follow', { skip: !HAS_KSM && 'this kernel has no KSM' }, async () => {
  const saved = { run: sysfs('run'), pages_to_scan: sysfs('pages_to_scan'), sleep_millisecs: sysfs('sleep_millisecs') };
  try {
    const on = await daemon.cli(['host', 'ksm', 'on']);
    assert.equal(on.code, 0, on.stderr);
    assert.match(on.stdout, new RegExp(`KSM on: .*scanning ${KSM_ON_PAGES_TO_SCAN} pages every ${KSM_ON_SLEEP_MILLISECS} ms`));
    assert.equal(sysfs('run'), '1');
    assert.equal(sysfs('pages_to_scan'), String(KSM_ON_PAGES_TO_SCAN));
    assert.equal(sysfs('sleep_millisecs'), String(KSM_ON_SLEEP_MILLISECS));
    assert.match(await daemon.api().request<string>('GET', '/metrics'), /^ardesia_ksm_enabled 1$/m);

    const off = await daemon.cli(['--json', 'host', 'ksm', 'off']);
    assert.equal(off.code, 0, off.stderr);
    assert.equal((JSON.parse(off.stdout) as KsmReport).mode, 'off');
    assert.equal(sysfs('run'), '0', 'off is run=0, never the unmerge run=2');
    const metrics = await daemon.api().request<string>('GET', '/metrics');
    assert.match(metrics, /^ardesia_ksm_enabled 0$/m);
    assert.match(metrics, /^ardesia_ksm_saved_bytes \d+$/m);

    // unmerge (run=2) only when asked, and only with the room for what KSM saved (this machine has it).
    const unmerge = await daemon.cli(['--json', 'host', 'ksm', 'unmerge']);
    assert.equal(unmerge.code, 0, unmerge.stderr);
    assert.equal(sysfs('run'), '2');
    assert.equal((JSON.parse(unmerge.stdout) as KsmReport).mode, 'unmerge');

    const audit = await daemon.cli(['--json', 'audit']);
    assert.match(audit.stdout, /"action": ?"host.ksm"/);
  } finally {
    // The scan rate first, then run: the machine as it was before this test.
    writeFileSync(join(KSM_SYSFS_DIR, 'pages_to_scan'), saved.pages_to_scan);
    writeFileSync(join(KSM_SYSFS_DIR, 'sleep_millisecs'), saved.sleep_millisecs);
    if (saved.run !== '2') writeFileSync(join(KSM_SYSFS_DIR, 'run'), saved.run);
  }
});

test("another host than the daemon's own is refused (KSM_HOST_NOT_LOCAL, HOST_NOT_FOUND); a bad mode is refused by the CLI", async () => {
  const store = await openStore(storeLocation(daemon.database, daemon.dataDir));
  try {
    const at = new Date().toISOString();
    await store.insertInto('hosts').values({ name: 'ksm-blade2', state: 'up', labels: '[]', memory_mib: 8192, vcpus: 4, memory_overcommit: 1, cpu_overcommit: 4, heartbeat_at: at, agent_credential_sha256: null, cert_fingerprint: null, created_at: at, updated_at: at }).execute();
  } finally {
    await store.destroy();
  }
  assert.equal(await codeOf(daemon.api().request('PUT', '/v1/hosts/ksm-blade2/ksm', { mode: 'on' })), 'KSM_HOST_NOT_LOCAL');
  const remote = await daemon.cli(['host', 'ksm', 'on', '--host', 'ksm-blade2']);
  assert.equal(remote.code, 1);
  assert.match(remote.stderr, /not this daemon's host/);
  const listed = await daemon.api().request<HostView[]>('GET', '/v1/hosts');
  assert.equal(listed.find((h) => h.name === 'ksm-blade2')?.ksm, null, "another host's KSM is not reported as if read");
  assert.equal(await codeOf(daemon.api().request('PUT', '/v1/hosts/nosuch-blade/ksm', { mode: 'on' })), 'HOST_NOT_FOUND');
  const bad = await daemon.cli(['host', 'ksm', 'sometimes']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /Accepted: one of on, off, unmerge/);
});
