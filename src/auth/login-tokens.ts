// Login tokens (`ardesia login`): listed and revoked by their owner or an administrator. File tokens (root, unix
// accounts) are not listed here: the daemon replaces them with their files.
import { ArdesiaError } from '../contract/errors.js';
import type { Principal, TokenView } from '../contract/users.js';
import type { Store } from '../store/db.js';
import { auditAppend } from '../audit/log.js';
import type { LiveConnections } from './live-connections.js';

/** The caller's own login tokens; an administrator's with `user` names whose (or everyone's with `all`). */
export async function loginTokensList(db: Store, who: Principal, query: { user?: string; all?: boolean }): Promise<TokenView[]> {
  const wantsOthers = query.all === true || (query.user !== undefined && query.user !== who.name);
  if (wantsOthers && !who.admin) throw new ArdesiaError('FORBIDDEN', "only an administrator may list other users' tokens");
  let q = db.selectFrom('api_tokens').select(['id', 'principal', 'label', 'created_at', 'expires_at', 'token_sha256']).where('kind', '=', 'user');
  if (query.all !== true) q = q.where('principal', '=', query.user ?? who.name);
  const rows = await q.orderBy('id').execute();
  const nowMs = Date.now();
  return rows
    .filter((r) => r.expires_at === null || Date.parse(r.expires_at) > nowMs)
    .map((r) => ({ id: r.id, user: r.principal, label: r.label, createdAt: r.created_at, expiresAt: r.expires_at, current: r.token_sha256 === who.tokenId }));
}

/** Revokes one login token (the owner's or, for an administrator, anyone's); its live connections close at once. */
export async function loginTokenRevoke(db: Store, connections: LiveConnections, who: Principal, id: number, address: string): Promise<{ revoked: number }> {
  const row = await db.selectFrom('api_tokens').select(['principal', 'token_sha256']).where('id', '=', id).where('kind', '=', 'user').executeTakeFirst();
  // Someone else's token is "not found" to a non-administrator: ids do not tell who has tokens.
  if (!row || (!who.admin && row.principal !== who.name)) throw new ArdesiaError('TOKEN_NOT_FOUND', `there is no token ${id} of yours`);
  await db.deleteFrom('api_tokens').where('id', '=', id).execute();
  connections.closeOfToken(row.token_sha256, 'token revoked');
  await auditAppend(db, who.name, 'auth.token-revoke', row.principal, { id }, address);
  return { revoked: id };
}

/** Drops login tokens past their end (housekeeping). */
export async function loginTokensPrune(db: Store, nowMs = Date.now()): Promise<number> {
  const r = await db.deleteFrom('api_tokens').where('kind', '=', 'user').where('expires_at', '<=', new Date(nowMs).toISOString()).executeTakeFirst();
  return Number(r.numDeletedRows);
}
