import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore, type Store } from '../../store/db.js';
import { homeLeaseClaimInit, homeLeaseFreed, homeLeaseGet, homeLeaseHeld, homeLeaseReady, homeLeaseSlot, leaseHostId } from './repo.js';

const name = (slot: number) => `home${slot}`;

/** The cases on a fresh store from `open` (SQLite here; test/cluster/home-lease-repo.postgres.test.ts: PostgreSQL). */
export function homeLeaseRepoTests(open: () => Promise<Store>, label: string): void {
  test(`${label}: host ids: the smallest free one, given once and kept per host`, async () => {
    const db = await open();
    try {
      assert.equal(await leaseHostId(db, 'blade1'), 1);
      assert.equal(await leaseHostId(db, 'blade2'), 2);
      assert.equal(await leaseHostId(db, 'blade1'), 1);
      await db.deleteFrom('lease_host_ids').where('host', '=', 'blade1').execute();
      assert.equal(await leaseHostId(db, 'blade3'), 1, 'a freed id is given again');
    } finally {
      await db.destroy();
    }
  });

  test(`${label}: slots: one per home, unique; generation counts acquisitions; a release clears only its own holder`, async () => {
    const db = await open();
    try {
      const a = await homeLeaseSlot(db, 'alice', name);
      const b = await homeLeaseSlot(db, 'bob', name);
      assert.deepEqual([a.slot, a.resource, b.slot, b.resource], [0, 'home0', 1, 'home1']);
      assert.equal((await homeLeaseSlot(db, 'alice', name)).slot, 0, 'kept');
      assert.deepEqual([await homeLeaseClaimInit(db, 'alice'), await homeLeaseClaimInit(db, 'alice')], [true, false], 'one host initialises the resource');
      await homeLeaseReady(db, 'alice');
      assert.equal((await homeLeaseGet(db, 'alice'))?.ready, 1);
      assert.equal(await homeLeaseClaimInit(db, 'alice'), false, 'never again once ready');
      assert.equal(await homeLeaseHeld(db, 'alice', { host: 'blade1', desktop: 'p-1', pid: 42 }, 't1'), 1);
      await homeLeaseFreed(db, 'alice', 'blade2', 'p-1'); // another host's release of the same desktop name
      assert.equal((await homeLeaseGet(db, 'alice'))?.holder_pid, 42);
      await homeLeaseFreed(db, 'alice', 'blade1', 'p-1');
      assert.equal((await homeLeaseGet(db, 'alice'))?.holder_host, null);
      assert.equal(await homeLeaseHeld(db, 'alice', { host: 'blade2', desktop: 'p-7', pid: 9 }, 't2'), 2);
      const row = await homeLeaseGet(db, 'alice');
      assert.deepEqual([row?.holder_host, row?.holder_desktop, row?.holder_pid, row?.generation], ['blade2', 'p-7', 9, 2]);
    } finally {
      await db.destroy();
    }
  });
}

homeLeaseRepoTests(() => openStore(':memory:'), 'sqlite');
