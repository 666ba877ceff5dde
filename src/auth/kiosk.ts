// Kiosk accounts. A thin client whose inventory names a kiosk account gets a browser session of that account
// with no password, bound to the client's MAC: it may only open that client's pool desktop (server.ts refuses every
// route not marked for kiosks). Anyone on the network can claim a MAC, so the account is as public as the PC's place.
import { ArdesiaError } from '../contract/errors.js';
import { MacText } from '../contract/thinclients.js';
import type { Principal } from '../contract/users.js';
import { auditAppend } from '../audit/log.js';
import type { Store } from '../store/db.js';
import type { LoginThrottle } from './rate-limit.js';
import { retryText } from './rate-limit.js';
import { sessionCreate, sessionDelete, type SessionRow } from './sessions.js';

/** Opens a kiosk session for the thin client `thinClient`; the previous kiosk session of that client ends (one per PC). */
export async function kioskSessionOpen(
  db: Store,
  throttle: LoginThrottle,
  thinClient: string,
  address: string,
  userAgent: string | undefined,
  nowMs: number,
): Promise<{ user: string; sessionId: string }> {
  const parsed = MacText.safeParse(thinClient);
  if (!parsed.success) throw new ArdesiaError('BAD_REQUEST', 'body.thinClient: must be a MAC address like 52:54:00:12:34:56');
  const mac = parsed.data;
  // Asking for MACs that open nothing counts as failed logins of this address (no free scan of the inventory).
  const verdict = throttle.reserve(`kiosk:${mac}`, address, nowMs);
  if (!verdict.allowed) {
    throw new ArdesiaError('LOGIN_RATE_LIMITED', `too many kiosk requests from address ${address}; try again in ${retryText(verdict.retryAfterMs)}`, {
      retryAfterSeconds: Math.ceil(verdict.retryAfterMs / 1000),
    });
  }
  let user: string | undefined;
  try {
    user = await kioskUserOf(db, mac);
  } finally {
    throttle.settle(verdict.attempt, user !== undefined, nowMs);
  }
  if (!user) throw new ArdesiaError('KIOSK_NOT_CONFIGURED', `thin client ${mac} opens no kiosk account`);
  const old = await db.selectFrom('sessions').select('id_sha256').where('kiosk_mac', '=', mac).execute();
  for (const s of old) await sessionDelete(db, s.id_sha256);
  const { id, idHash } = await sessionCreate(db, user, address, userAgent, mac);
  await auditAppend(db, user, 'auth.kiosk-login', user, { thinClient: mac, session: idHash.slice(0, 12) }, address);
  return { user, sessionId: id };
}

/** The kiosk account the thin client names, when the client is not disabled and the account is a live kiosk account. */
async function kioskUserOf(db: Store, mac: string): Promise<string | undefined> {
  const client = await db.selectFrom('thin_clients').select(['kiosk_user', 'state']).where('mac', '=', mac).executeTakeFirst();
  if (!client?.kiosk_user || client.state === 'disabled') return undefined;
  const user = await db.selectFrom('users').select(['kiosk', 'disabled']).where('name', '=', client.kiosk_user).executeTakeFirst();
  return user?.kiosk === 1 && user.disabled === 0 ? client.kiosk_user : undefined;
}

/**
 * The principal of a kiosk session, checked again on every request: the client must still name this kiosk account
 * and not be disabled (an administrator's change ends it at once). Never an administrator.
 */
export async function kioskPrincipal(db: Store, session: SessionRow & { kiosk_mac: string }): Promise<Principal | undefined> {
  const mac = session.kiosk_mac;
  if ((await kioskUserOf(db, mac)) !== session.user) return undefined;
  const client = await db.selectFrom('thin_clients').select('pool').where('mac', '=', mac).executeTakeFirstOrThrow();
  const groups = await db.selectFrom('user_groups').select('group').where('user', '=', session.user).orderBy('group').execute();
  return { name: session.user, kind: 'user', admin: false, groups: groups.map((g) => g.group), session: session.id_sha256, kiosk: { mac, pool: client.pool } };
}

/** Pure: may this principal open `pool`? Anyone but a kiosk session bound to a client that names another pool. */
export const kioskMayOpen = (who: Pick<Principal, 'kiosk'>, pool: string): boolean => who.kiosk === undefined || who.kiosk.pool === null || who.kiosk.pool === pool;
