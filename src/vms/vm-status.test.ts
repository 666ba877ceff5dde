import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { VmObserved } from '../contract/agent.js';
import { parseSpec, vmSeen } from './vm-status.js';
import { openStore } from '../store/db.js';
import { vmInsert, vmPlacements, vmSetObserved } from '../store/vms.js';

const observed = (state: VmObserved['state']): VmObserved => ({ name: 'v', state, pid: state === 'stopped' ? null : 4242, accel: 'tcg', startedAt: '2026-12-06T12:00:00.000Z', generation: 3, exitReason: null });
const here = { state: 'paused' as const, pid: 77, accel: 'tcg' as const, startedAt: '2026-12-06T11:00:00.000Z' };

test('a VM is seen as its QEMU here has it, else as its agent last reported it when placed on another host', () => {
  const cases: Array<[string, VmObserved | null, typeof here | undefined, boolean, string, number | null]> = [
    ['its QEMU runs here: that, whatever was reported', observed('running'), here, true, 'paused', 77],
    ['on an agent\'s host, reported running', observed('running'), undefined, true, 'running', 4242],
    ['on an agent\'s host, reported paused', observed('paused'), undefined, true, 'paused', 4242],
    ['on an agent\'s host, nothing reported yet', null, undefined, true, 'stopped', null],
    ['on an agent\'s host, reported stopped', observed('stopped'), undefined, true, 'stopped', null],
    ['this host, no QEMU: stopped, an old report ignored', observed('running'), undefined, false, 'stopped', null],
  ];
  for (const [what, obs, rt, remote, state, pid] of cases) {
    const seen = vmSeen({ observed: obs }, rt, remote);
    assert.deepEqual([seen.state, seen.pid, seen.running], [state, pid, state !== 'stopped'], what);
  }
});

test('vmPlacements reads every VM\'s name, host and last report, nothing more', async () => {
  const db = await openStore(':memory:');
  try {
    for (const name of ['here', 'there']) await vmInsert(db, { spec: parseSpec({ name, memoryMiB: 256 }), source: 'cli', transient: false });
    await db.updateTable('vms').set({ host: 'blade2' }).where('name', '=', 'there').execute();
    await vmSetObserved(db, 'there', { ...observed('running'), name: 'there' });
    const rows = (await vmPlacements(db)).sort((a, b) => a.name.localeCompare(b.name));
    assert.deepEqual(rows.map((r) => [r.name, r.host, r.observed?.state ?? null, Object.keys(r).length]), [['here', null, null, 3], ['there', 'blade2', 'running', 3]]);
  } finally {
    await db.destroy();
  }
});
