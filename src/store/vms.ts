// Repository of VM definitions and their desired state.
import { VmSpec } from '../contract/vm.js';
import type { Store } from './db.js';
import type { Selectable, Updateable } from 'kysely';
import type { VmTable } from './schema.js';

export interface VmRecord {
  name: string;
  spec: VmSpec;
  desired: 'running' | 'stopped';
  source: string;
  transient: boolean;
  lastStopReason: string | null;
  startedAt: string | null;
}

function fromRow(row: Selectable<VmTable>): VmRecord {
  return {
    name: row.name,
    spec: VmSpec.parse(JSON.parse(row.spec)),
    desired: row.desired,
    source: row.source,
    transient: row.transient === 1,
    lastStopReason: row.last_stop_reason,
    startedAt: row.started_at,
  };
}

export async function vmList(db: Store): Promise<VmRecord[]> {
  const rows = await db.selectFrom('vms').selectAll().orderBy('name').execute();
  return rows.map(fromRow);
}

export async function vmNames(db: Store): Promise<string[]> {
  return (await db.selectFrom('vms').select('name').execute()).map((r) => r.name);
}

/** The host the VM runs on or last ran on. */
export async function vmHostOf(db: Store, name: string): Promise<string | null> {
  return (await db.selectFrom('vms').select('host').where('name', '=', name).executeTakeFirst())?.host ?? null;
}

export async function vmGet(db: Store, name: string): Promise<VmRecord | undefined> {
  const row = await db.selectFrom('vms').selectAll().where('name', '=', name).executeTakeFirst();
  return row ? fromRow(row) : undefined;
}

export async function vmInsert(db: Store, rec: Pick<VmRecord, 'spec' | 'source' | 'transient'>): Promise<void> {
  const now = new Date().toISOString();
  await db
    .insertInto('vms')
    .values({
      name: rec.spec.name,
      spec: JSON.stringify(rec.spec),
      desired: 'stopped',
      source: rec.source,
      transient: rec.transient ? 1 : 0,
      last_stop_reason: null,
      started_at: null,
      created_at: now,
      updated_at: now,
    })
    .execute();
}

export async function vmUpdateSpec(db: Store, spec: VmSpec, source: string): Promise<void> {
  await db
    .updateTable('vms')
    .set({ spec: JSON.stringify(spec), source, updated_at: new Date().toISOString() })
    .where('name', '=', spec.name)
    .execute();
}

export async function vmSetDesired(
  db: Store,
  name: string,
  patch: { desired?: 'running' | 'stopped'; lastStopReason?: string | null; startedAt?: string | null; host?: string },
): Promise<void> {
  const set: Updateable<VmTable> = { updated_at: new Date().toISOString() };
  if (patch.desired !== undefined) set.desired = patch.desired;
  if (patch.lastStopReason !== undefined) set.last_stop_reason = patch.lastStopReason;
  if (patch.startedAt !== undefined) set.started_at = patch.startedAt;
  if (patch.host !== undefined) set.host = patch.host;
  await db.updateTable('vms').set(set).where('name', '=', name).execute();
}

export async function vmDelete(db: Store, name: string): Promise<void> {
  await db.deleteFrom('vms').where('name', '=', name).execute();
}
