// Who is calling: a bearer token (root, a user's login token, a vm-owner file token) or a browser session cookie.
import type { Principal } from '../contract/users.js';
import type { Store } from '../store/db.js';
import { cookiesParse, SESSION_COOKIE } from './cookies.js';
import { sessionResolve, sha256 } from './sessions.js';
import { ROOT_PRINCIPAL } from './tokens.js';
import { isAdmin } from './users.js';

export interface CredentialHeaders {
  authorization?: string;
  cookie?: string;
}

/** A bearer header wins over a cookie (a bad bearer is not rescued by a cookie); undefined = anonymous. */
export async function principalResolve(db: Store, headers: CredentialHeaders): Promise<Principal | undefined> {
  const auth = headers.authorization;
  if (auth !== undefined) {
    const token = auth.startsWith('Bearer ') ? auth.slice(7).trim() : '';
    if (!token) return undefined;
    const tokenId = sha256(token);
    const row = await db.selectFrom('api_tokens').select(['principal', 'label']).where('token_sha256', '=', tokenId).executeTakeFirst();
    if (!row) return undefined;
    const principal = await principalOfName(db, row.principal, row.label !== null);
    return principal && { ...principal, tokenId };
  }
  const sessionId = cookiesParse(headers.cookie)[SESSION_COOKIE];
  if (!sessionId) return undefined;
  const session = await sessionResolve(db, sessionId);
  if (!session) return undefined;
  const principal = await principalOfName(db, session.user, true);
  return principal && { ...principal, session: session.id_sha256 };
}

/**
 * Root is admin; a user row gives roles and groups (disabled: nobody). A vm-owner token without a user row stays
 * a plain principal; a login credential without a user row (the user was deleted) is nobody.
 */
async function principalOfName(db: Store, name: string, needsUserRow: boolean): Promise<Principal | undefined> {
  if (name === ROOT_PRINCIPAL) return { name, admin: true, groups: [] };
  const user = await db.selectFrom('users').select(['roles', 'disabled']).where('name', '=', name).executeTakeFirst();
  if (!user) return needsUserRow ? undefined : { name, admin: false, groups: [] };
  if (user.disabled === 1) return undefined;
  const groups = await db.selectFrom('user_groups').select('group').where('user', '=', name).orderBy('group').execute();
  return { name, admin: isAdmin(user), groups: groups.map((g) => g.group) };
}
