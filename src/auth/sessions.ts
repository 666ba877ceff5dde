// Browser sessions: a random id in the cookie, its sha256 in the store, an idle and an absolute limit.
import { createHash, randomBytes } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { Store } from '../store/db.js';
import type { SessionTable } from '../store/schema-auth.js';

export const SESSION_IDLE_MS = 2 * 3600_000;
export const SESSION_ABSOLUTE_MS = 12 * 3600_000;
/** last_seen is written at most this often: one write per request would serialize every request on SQLite. */
const SESSION_TOUCH_EVERY_MS = 60_000;

export type SessionRow = Selectable<SessionTable>;
export type SessionState = 'live' | 'idle-expired' | 'expired';

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/** Pure: is the session still usable at nowMs? */
export function sessionState(row: Pick<SessionRow, 'last_seen_at' | 'expires_at'>, nowMs: number): SessionState {
  if (nowMs >= Date.parse(row.expires_at)) return 'expired';
  if (nowMs >= Date.parse(row.last_seen_at) + SESSION_IDLE_MS) return 'idle-expired';
  return 'live';
}

/** Seconds the cookie should live: until the absolute end. */
export const sessionCookieMaxAgeS = (): number => SESSION_ABSOLUTE_MS / 1000;

/** kioskMac: a kiosk session bound to that thin client (principal.ts limits what it may do). */
export async function sessionCreate(db: Store, user: string, address: string, userAgent: string | undefined, kioskMac?: string): Promise<{ id: string; idHash: string }> {
  const id = randomBytes(32).toString('base64url');
  const idHash = sha256(id);
  const nowMs = Date.now();
  await db
    .insertInto('sessions')
    .values({
      id_sha256: idHash,
      user,
      created_at: new Date(nowMs).toISOString(),
      last_seen_at: new Date(nowMs).toISOString(),
      expires_at: new Date(nowMs + SESSION_ABSOLUTE_MS).toISOString(),
      address,
      user_agent: userAgent?.slice(0, 300) ?? null,
      kiosk_mac: kioskMac ?? null,
    })
    .execute();
  return { id, idHash };
}

/** The live session of a cookie value, touched; expired ones are deleted on sight. */
export async function sessionResolve(db: Store, id: string): Promise<SessionRow | undefined> {
  const idHash = sha256(id);
  const row = await db.selectFrom('sessions').selectAll().where('id_sha256', '=', idHash).executeTakeFirst();
  if (!row) return undefined;
  const nowMs = Date.now();
  if (sessionState(row, nowMs) !== 'live') {
    await sessionDelete(db, idHash);
    return undefined;
  }
  if (nowMs - Date.parse(row.last_seen_at) >= SESSION_TOUCH_EVERY_MS) {
    await db.updateTable('sessions').set({ last_seen_at: new Date(nowMs).toISOString() }).where('id_sha256', '=', idHash).execute();
  }
  return row;
}

export async function sessionDelete(db: Store, idHash: string): Promise<void> {
  await db.deleteFrom('sessions').where('id_sha256', '=', idHash).execute();
}

export async function sessionsDeleteOfUser(db: Store, user: string): Promise<number> {
  const r = await db.deleteFrom('sessions').where('user', '=', user).executeTakeFirst();
  return Number(r.numDeletedRows);
}

/** Drops every session past its idle or absolute end (run now and then by the daemon). */
export async function sessionsPrune(db: Store, nowMs = Date.now()): Promise<number> {
  const r = await db
    .deleteFrom('sessions')
    .where((eb) =>
      eb.or([eb('expires_at', '<=', new Date(nowMs).toISOString()), eb('last_seen_at', '<=', new Date(nowMs - SESSION_IDLE_MS).toISOString())]),
    )
    .executeTakeFirst();
  return Number(r.numDeletedRows);
}
