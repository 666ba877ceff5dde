// The thin-client inventory: clients known by MAC, registered the first time they ask for a boot
// script, configured by administrators, seen by the boot chain and the broker.
import { EventEmitter } from 'node:events';
import type { Updateable } from 'kysely';
import { ArdesiaError } from '../contract/errors.js';
import { auditAppend } from '../audit/log.js';
import { KeyedTokenBuckets, type BucketRule } from '../lib/token-bucket.js';
import type { ThinClientTable } from '../store/schema-netboot.js';
import type { Store } from '../store/db.js';
import type { ThinClientCreate, ThinClientPatch, ThinClientView } from '../contract/thinclients.js';

export interface ThinClientSettings {
  /** New clients wait for an administrator to enable them (default: they boot at once). */
  requireApproval: boolean;
}

/** What the boot chain does with a client asking for its script; 'busy': an unknown MAC not registered now (rate limit). */
export type BootDecision = 'boot' | 'disabled' | 'awaiting-approval' | 'busy';

/**
 * Auto-registration of unknown MACs is unauthenticated, so it is rate-limited: overall (a flood of
 * made-up MACs cannot fill the inventory) and per source address (one PC cannot use up the overall budget).
 */
export const REGISTRATIONS_OVERALL: BucketRule = { burst: 30, refillMs: 2_000 };
export const REGISTRATIONS_PER_ADDRESS: BucketRule = { burst: 4, refillMs: 60_000 };
/** The boot chain tells the live feed about one client at most this often (a PC hammering /boot/ cannot flood it). */
export const BOOT_EVENT_MIN_INTERVAL_MS = 5_000;

export function bootDecision(state: ThinClientView['state'], settings: ThinClientSettings): BootDecision {
  if (state === 'disabled') return 'disabled';
  if (state === 'new' && settings.requireApproval) return 'awaiting-approval';
  return 'boot';
}

export function thinClientView(row: ThinClientTable): ThinClientView {
  return {
    mac: row.mac, name: row.name, place: row.place, pool: row.pool, state: row.state,
    keyboardLayout: row.keyboard_layout, resolution: row.resolution,
    bootParams: row.boot_params, lastSeenAt: row.last_seen_at, lastIp: row.last_ip, bootCount: row.boot_count,
    currentUser: row.current_user,
    kioskUser: row.kiosk_user,
  };
}

const COLUMN_OF = {
  name: 'name', place: 'place', pool: 'pool', state: 'state', keyboardLayout: 'keyboard_layout', resolution: 'resolution', bootParams: 'boot_params',
  kioskUser: 'kiosk_user',
} as const satisfies Record<keyof ThinClientPatch, keyof ThinClientTable>;

function notFound(mac: string): ArdesiaError {
  return new ArdesiaError('THINCLIENT_NOT_FOUND', `no thin client with MAC ${mac} is known`);
}

/** A client row with nothing known yet (the insert's defaults). */
const EMPTY_CLIENT = {
  boot_count: 0, name: null, place: null, pool: null, keyboard_layout: null, resolution: null,
  boot_params: null, last_seen_at: null, last_ip: null, current_user: null, kiosk_user: null,
} as const;

/** Writes the fields `patch` names (null clears one); a name held by another MAC is refused. False: `patch` names none. */
async function patchWrite(store: Store, mac: string, patch: ThinClientPatch): Promise<boolean> {
  const set: Partial<Record<keyof ThinClientTable, string | null>> = {};
  for (const [key, column] of Object.entries(COLUMN_OF) as Array<[keyof ThinClientPatch, keyof ThinClientTable]>) {
    if (patch[key] !== undefined) set[column] = patch[key] ?? null;
  }
  if (Object.keys(set).length === 0) return false;
  if (patch.kioskUser) {
    // Only a kiosk account may be opened without a password; an ordinary one never.
    const user = await store.selectFrom('users').select('kiosk').where('name', '=', patch.kioskUser).executeTakeFirst();
    if (user?.kiosk !== 1) throw new ArdesiaError('KIOSK_USER_INVALID', `${patch.kioskUser} is ${user ? 'not a kiosk account' : 'no user'}`);
  }
  if (patch.name) {
    const holder = await store.selectFrom('thin_clients').select('mac').where('name', '=', patch.name).where('mac', '!=', mac).executeTakeFirst();
    if (holder) throw new ArdesiaError('THINCLIENT_NAME_TAKEN', `the name ${patch.name} is already given to ${holder.mac}`);
  }
  const res = await store.updateTable('thin_clients').set(set as Updateable<ThinClientTable>).where('mac', '=', mac).executeTakeFirst();
  if (res.numUpdatedRows === 0n) throw notFound(mac);
  return true;
}

/** Where the boot chain logs its stages (a pino logger fits). */
export interface BootLog {
  info(fields: Record<string, unknown>, message: string): void;
}

/** `changed`: a client's record after the boot chain or the broker touched it (the console shows it live). */
export interface ThinClientEvents {
  changed: [ThinClientView];
}

export class ThinClientService extends EventEmitter<ThinClientEvents> {
  readonly settings: ThinClientSettings = { requireApproval: false };
  private readonly registrationsOverall = new KeyedTokenBuckets(REGISTRATIONS_OVERALL, 1);
  private readonly registrationsByAddress = new KeyedTokenBuckets(REGISTRATIONS_PER_ADDRESS);
  /** One token per BOOT_EVENT_MIN_INTERVAL_MS per MAC: when the boot chain may publish `changed`. */
  private readonly bootEvents = new KeyedTokenBuckets({ burst: 1, refillMs: BOOT_EVENT_MIN_INTERVAL_MS });
  /** Registrations refused since the last log line about them (logged at most every few seconds). */
  private refusedRegistrations = { count: 0, loggedAtMs: 0 };

  constructor(
    readonly store: Store,
    /** The thin-client OSes live in DATA_DIR/thinclient/current-ARCH/. */
    readonly dataDir: string,
    readonly log: BootLog = { info: () => {} },
  ) {
    super();
  }

  /** Called by the broker when a user's desktop opens (user) or closes (null) on a thin client. */
  async recordSession(mac: string, user: string | null): Promise<void> {
    await this.store.updateTable('thin_clients').set({ current_user: user, last_seen_at: new Date().toISOString() }).where('mac', '=', mac).execute();
    const client = await this.find(mac);
    if (client) this.emit('changed', client);
  }

  configure(settings: Partial<ThinClientSettings>): void {
    Object.assign(this.settings, settings);
  }

  async list(): Promise<ThinClientView[]> {
    const rows = await this.store.selectFrom('thin_clients').selectAll().orderBy('mac').execute();
    return rows.map(thinClientView);
  }

  async find(mac: string): Promise<ThinClientView | undefined> {
    const row = await this.store.selectFrom('thin_clients').selectAll().where('mac', '=', mac).executeTakeFirst();
    return row ? thinClientView(row) : undefined;
  }

  async get(mac: string): Promise<ThinClientView> {
    const found = await this.find(mac);
    if (!found) throw notFound(mac);
    return found;
  }

  /** Adds a PC by MAC before it first boots, with its settings (enabled unless `state` says otherwise). */
  async create(input: ThinClientCreate, by: string): Promise<ThinClientView> {
    const { mac, ...patch } = input;
    await this.store.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('thin_clients')
        .values({ ...EMPTY_CLIENT, mac, state: 'enabled', created_at: new Date().toISOString() })
        .onConflict((oc) => oc.column('mac').doNothing())
        .executeTakeFirst();
      if ((inserted.numInsertedOrUpdatedRows ?? 0n) === 0n) throw new ArdesiaError('THINCLIENT_EXISTS', `thin client ${mac} is already in the inventory`);
      // Settings as a patch in the same transaction: a name taken or a bad value leaves nothing half-added.
      await patchWrite(trx, mac, patch);
      // Audited with or without settings: the audit feed is what tells the console live.
      await auditAppend(trx, by, 'thinclient.create', mac, patch);
    });
    return this.get(mac);
  }

  async patch(mac: string, patch: ThinClientPatch, by: string): Promise<ThinClientView> {
    if (await patchWrite(this.store, mac, patch)) await auditAppend(this.store, by, 'thinclient.update', mac, patch);
    return this.get(mac);
  }

  async delete(mac: string, by: string): Promise<{ deleted: string }> {
    const res = await this.store.deleteFrom('thin_clients').where('mac', '=', mac).executeTakeFirst();
    if (res.numDeletedRows === 0n) throw notFound(mac);
    await auditAppend(this.store, by, 'thinclient.delete', mac);
    return { deleted: mac };
  }

  /**
   * A client asks for its boot script: registered as new if unknown (within the registration rate
   * limits, else 'busy' and nothing written), seen now from `ip`; its boot count grows only when it is let boot.
   */
  async bootRequest(mac: string, ip: string, nowMs = Date.now()): Promise<{ client?: ThinClientView; decision: BootDecision; registered: boolean }> {
    const now = new Date(nowMs).toISOString();
    let registered = false;
    if (!(await this.find(mac))) {
      if (!this.mayRegister(ip, nowMs)) return { decision: 'busy', registered: false };
      const inserted = await this.store
        .insertInto('thin_clients')
        .values({ ...EMPTY_CLIENT, mac, state: 'new', created_at: now })
        .onConflict((oc) => oc.column('mac').doNothing())
        .executeTakeFirst();
      registered = (inserted.numInsertedOrUpdatedRows ?? 0n) > 0n;
    }
    const before = await this.get(mac);
    const decision = bootDecision(before.state, this.settings);
    await this.store
      .updateTable('thin_clients')
      .set((eb) => ({ last_seen_at: now, last_ip: ip, boot_count: decision === 'boot' ? eb('boot_count', '+', 1) : eb.ref('boot_count') }))
      .where('mac', '=', mac)
      .execute();
    const client = await this.get(mac);
    this.emitFromBoot(client, registered, nowMs);
    return { client, decision, registered };
  }

  /** Takes a registration from both limits (overall, this address), or refuses and counts it. */
  private mayRegister(ip: string, nowMs: number): boolean {
    if (this.registrationsByAddress.available(ip, nowMs) >= 1 && this.registrationsOverall.take('all', nowMs)) {
      this.registrationsByAddress.take(ip, nowMs);
      return true;
    }
    this.refusedRegistrations.count++;
    if (nowMs - this.refusedRegistrations.loggedAtMs >= BOOT_EVENT_MIN_INTERVAL_MS) {
      this.log.info({ event: 'thinclient-registration-limited', refused: this.refusedRegistrations.count, lastFrom: ip },
        `${this.refusedRegistrations.count} unknown thin client(s) not registered: too many new MACs at once (they ask again)`);
      this.refusedRegistrations = { count: 0, loggedAtMs: nowMs };
    }
    return false;
  }

  /** A new client always reaches the live feed; a known one at most every BOOT_EVENT_MIN_INTERVAL_MS. */
  private emitFromBoot(client: ThinClientView, registered: boolean, nowMs: number): void {
    if (this.bootEvents.take(client.mac, nowMs) || registered) this.emit('changed', client);
  }

  /** The kiosk read its settings: the client is alive at `ip`. */
  async seen(mac: string, ip: string, nowMs = Date.now()): Promise<ThinClientView> {
    await this.store.updateTable('thin_clients').set({ last_seen_at: new Date(nowMs).toISOString(), last_ip: ip }).where('mac', '=', mac).execute();
    const client = await this.get(mac);
    this.emitFromBoot(client, false, nowMs);
    return client;
  }
}
