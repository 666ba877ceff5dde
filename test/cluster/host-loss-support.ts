// Plain VMs on lost hosts, run inside home-leases.test.ts's bed (its power-loss host d is judged down after its
// storage lease expired; its host b stays suspect, cut off but renewing): the VM with restart-on-host-loss is started
// again on the daemon's own host, the one without it is recorded lost, and the suspect host's VM is never moved.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Insertable } from 'kysely';
import type { HostDetail } from '../../src/contract/hosts.js';
import type { AuditEntry } from '../../src/contract/users.js';
import { VmSpec, type VmStatus } from '../../src/contract/vm.js';
import { openStore } from '../../src/store/db.js';
import type { VmTable } from '../../src/store/schema.js';
import { guestArtifacts } from '../helpers/guests.js';
import { qemuPidsUnder, type TestDaemon, until } from '../helpers/daemon.js';

/** [VM, the host it is recorded running on, restart-on-host-loss]. */
export const LOST_HOST_VMS: ReadonlyArray<readonly [string, string, boolean]> = [
  ['hl-restart', 'd', true],
  ['hl-lost', 'd', false],
  ['hl-cutoff', 'b', true],
];

/** The row of a VM its host's agent last reported running (the hosts of this bed have no agent process). */
export function runningVmRow(name: string, host: string, restartOnHostLoss: boolean, since: string): Insertable<VmTable> {
  const g = guestArtifacts().amd64;
  const spec = VmSpec.parse({ name, memoryMiB: 96, accel: 'tcg', boot: { kernel: g.kernel, initrd: g.initrd, cmdline: 'console=ttyS0 quiet' }, restartOnHostLoss });
  const observed = { name, state: 'running', pid: 1, accel: 'tcg', startedAt: since, generation: 1, exitReason: null };
  return { name, spec: JSON.stringify(spec), desired: 'running', source: 'api', transient: 0, last_stop_reason: null, started_at: since, created_at: since, updated_at: since, host, generation: 1, observed: JSON.stringify(observed) };
}

export async function assertHostLossOutcome(daemon: TestDaemon): Promise<void> {
  const api = daemon.api();
  const audit = async (action: string, vm: string) => (await api.request<AuditEntry[]>('GET', `/v1/audit?action=${action}&limit=10000`)).filter((e) => e.target === vm);
  // The pass follows the heartbeat at which the daemon's sanlock said DEAD.
  const restart = await until('hl-restart restarted after host d was declared down', async () => (await audit('vm.restart-on-host-loss', 'hl-restart'))[0], 60_000, 500);
  const detail = restart.detail as { from: string; to: string; reason: string };
  assert.equal(detail.from, 'd');
  assert.notEqual(detail.to, 'd');
  assert.match(detail.reason, /^host d is down \(no heartbeat for \d+ s and its storage lease has expired/);
  const started = await api.request<VmStatus>('GET', '/v1/vms/hl-restart');
  assert.equal(started.state, 'running');
  assert.match(started.hostLoss ?? '', new RegExp(`^restarted on host ${detail.to} at \\S+: host d is down \\(no heartbeat`));
  assert.match((await daemon.cli(['vm', 'status', 'hl-restart'])).stdout, /^hl-restart: restarted on host \S+ at \S+: host d is down/m);
  assert.deepEqual(qemuPidsUnder(join(daemon.dataDir, 'runtime', 'hl-restart')), [started.pid], "its QEMU runs on the daemon's own host");
  const host = await api.request<HostDetail>('GET', `/v1/hosts/${detail.to}`);
  assert.ok(host.vms.includes('hl-restart'), `recorded on host ${detail.to}`);

  const lost = await until('hl-lost recorded lost', async () => {
    const v = await api.request<VmStatus>('GET', '/v1/vms/hl-lost');
    return v.lastStopReason ? v : undefined;
  }, 30_000, 500);
  assert.equal(lost.state, 'stopped');
  assert.match(lost.lastStopReason!, /^lost: host d is down \(.*storage lease has expired.*\); it is not restarted elsewhere .*`ardesia vm start hl-lost`/);
  assert.equal((await audit('vm.lost', 'hl-lost')).length, 1);
  const store = await openStore(join(daemon.dataDir, 'ardesia.db'));
  try {
    const row = await store.selectFrom('vms').select(['generation', 'desired']).where('name', '=', 'hl-lost').executeTakeFirstOrThrow();
    assert.ok(row.generation > 1, 'a new generation: its host, back with it still running, would stop it');
  } finally {
    await store.destroy();
  }
  assert.deepEqual(qemuPidsUnder(join(daemon.dataDir, 'runtime', 'hl-lost')), [], 'nothing started in its place');

  // The passes that dealt with host d saw host b suspect: its VM stays where it is, desired running, untouched.
  const b = await api.request<HostDetail>('GET', '/v1/hosts/b');
  assert.equal(b.state, 'suspect');
  assert.deepEqual(b.vms, ['hl-cutoff']);
  assert.deepEqual([...(await audit('vm.restart-on-host-loss', 'hl-cutoff')), ...(await audit('vm.lost', 'hl-cutoff'))], []);
  assert.deepEqual(qemuPidsUnder(join(daemon.dataDir, 'runtime', 'hl-cutoff')), []);
  await api.request('POST', '/v1/vms/hl-restart/stop', { force: true, waitMs: 10_000 });
}
