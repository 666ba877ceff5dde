// Repository of VM definitions and their desired state.
import { VmMoveIntent, VmObserved, VmRestoreFrom } from '../contract/agent.js';
import { VmSpec } from '../contract/vm.js';
import type { Store } from './db.js';
import { type NamePage, pageLimit } from './paging.js';
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
  /** Where it runs or last ran (null only before the daemon's first start after 0010_hosts). */
  host: string | null;
  generation: number;
  /** Its agent's last report (a VM on a remote host). */
  observed: VmObserved | null;
  /** Why the controller restarted it on its host after the one before was lost (null once started by other means). */
  hostLoss: string | null;
  /** A live migration under way, recorded before it starts (cluster/vm-migrations.ts). */
  moving: VmMoveIntent | null;
  /** The restore template its start on an agent's host clones (null: a plain start). */
  restoreFrom: VmRestoreFrom | null;
  /** The VM owner whose start it runs under (their owner rules), or null (an administrator's). */
  confinedBy: string | null;
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
    host: row.host,
    generation: row.generation,
    observed: row.observed === null ? null : VmObserved.parse(JSON.parse(row.observed)),
    hostLoss: row.host_loss ?? null,
    moving: row.moving == null ? null : VmMoveIntent.parse(JSON.parse(row.moving)),
    restoreFrom: row.restore_from == null ? null : VmRestoreFrom.parse(JSON.parse(row.restore_from)),
    confinedBy: row.confined_by ?? null,
  };
}

/** Every VM by name, or one page of them (`pageLimit` rows: one more than the page). */
export async function vmList(db: Store, page?: NamePage): Promise<VmRecord[]> {
  const rows = await db
    .selectFrom('vms')
    .selectAll()
    .$if(page?.after !== undefined, (q) => q.where('name', '>', page!.after!))
    .$if(page !== undefined, (q) => q.limit(pageLimit(page!)))
    .orderBy('name')
    .execute();
  return rows.map(fromRow);
}

/** The VMs placed on these hosts (an agent's link is sent its host's; a down host's are dealt with). */
export async function vmListOnHosts(db: Store, hosts: readonly string[]): Promise<VmRecord[]> {
  if (hosts.length === 0) return [];
  const rows = await db.selectFrom('vms').selectAll().where('host', 'in', hosts).orderBy('name').execute();
  return rows.map(fromRow);
}

/** VMs with a live migration recorded as under way. */
export async function vmListMoving(db: Store): Promise<VmRecord[]> {
  const rows = await db.selectFrom('vms').selectAll().where('moving', 'is not', null).orderBy('name').execute();
  return rows.map(fromRow);
}

/** Every VM's (or these VMs') name, host and its agent's last report: what a list of desktops needs to show their VMs' states. */
export async function vmPlacements(db: Store, names?: readonly string[]): Promise<Array<Pick<VmRecord, 'name' | 'host' | 'observed'>>> {
  if (names?.length === 0) return [];
  const rows = await db
    .selectFrom('vms')
    .select(['name', 'host', 'observed'])
    .$if(names !== undefined, (q) => q.where('name', 'in', names!))
    .execute();
  return rows.map((r) => ({ name: r.name, host: r.host, observed: r.observed === null ? null : VmObserved.parse(JSON.parse(r.observed)) }));
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
  patch: { desired?: 'running' | 'stopped'; lastStopReason?: string | null; startedAt?: string | null; host?: string; generation?: number; hostLoss?: string | null; moving?: VmMoveIntent | null; restoreFrom?: VmRestoreFrom | null; confinedBy?: string | null },
): Promise<void> {
  const set: Updateable<VmTable> = { updated_at: new Date().toISOString() };
  if (patch.desired !== undefined) set.desired = patch.desired;
  if (patch.lastStopReason !== undefined) set.last_stop_reason = patch.lastStopReason;
  if (patch.startedAt !== undefined) set.started_at = patch.startedAt;
  if (patch.host !== undefined) set.host = patch.host;
  if (patch.generation !== undefined) set.generation = patch.generation;
  if (patch.hostLoss !== undefined) set.host_loss = patch.hostLoss;
  if (patch.moving !== undefined) set.moving = patch.moving === null ? null : JSON.stringify(patch.moving);
  if (patch.restoreFrom !== undefined) set.restore_from = patch.restoreFrom === null ? null : JSON.stringify(patch.restoreFrom);
  if (patch.confinedBy !== undefined) set.confined_by = patch.confinedBy;
  await db.updateTable('vms').set(set).where('name', '=', name).execute();
}

export async function vmDelete(db: Store, name: string): Promise<void> {
  await db.deleteFrom('vms').where('name', '=', name).execute();
}

/** The next generation of a VM's desired state: above its last, and above any time before (a VM defined again never
 * takes a generation its host's agent already applied to its namesake). */
export function vmNextGeneration(last: number, nowMs = Date.now()): number {
  return Math.max(last + 1, nowMs);
}

/** The agent's report of a VM (null: it reported none). */
export async function vmSetObserved(db: Store, name: string, observed: VmObserved | null): Promise<void> {
  await db.updateTable('vms').set({ observed: observed === null ? null : JSON.stringify(observed) }).where('name', '=', name).execute();
}
