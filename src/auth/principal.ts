// Who is calling: a bearer token (root, a web user's login token, a unix account's file token) or a browser
// session cookie (a web user). A unix account and a web user of the same name are different principals.
import { type Principal, unixPrincipalName } from '../contract/users.js';
import type { Store } from '../store/db.js';
import { cookiesParse, SESSION_COOKIE } from './cookies.js';
import { sessionResolve, sha256 } from './sessions.js';
import { ROOT_PRINCIPAL } from './tokens.js';
import { isAdmin } from './users.js';
import { mfaEnrolmentRequired, MfaService } from './mfa-service.js';
import { kioskPrincipal } from './kiosk.js';

export interface CredentialHeaders {
  authorization?: string;
  cookie?: string;
}

/** A bearer header wins over a cookie (a bad bearer is not rescued by a cookie); undefined = anonymous. */
export async function principalResolve(db: Store, headers: CredentialHeaders, nowMs = Date.now()): Promise<Principal | undefined> {
  const auth = headers.authorization;
  if (auth !== undefined) {
    const token = auth.startsWith('Bearer ') ? auth.slice(7).trim() : '';
    if (!token) return undefined;
    const tokenId = sha256(token);
    const row = await db.selectFrom('api_tokens').select(['principal', 'kind', 'expires_at']).where('token_sha256', '=', tokenId).executeTakeFirst();
    if (!row) return undefined;
    if (row.expires_at !== null && nowMs >= Date.parse(row.expires_at)) {
      await db.deleteFrom('api_tokens').where('token_sha256', '=', tokenId).execute();
      return undefined;
    }
    const principal = row.kind === 'root' ? rootPrincipal() : row.kind === 'unix' ? unixPrincipal(row.principal) : await webUserPrincipal(db, row.principal);
    return principal && { ...principal, tokenId };
  }
  const sessionId = cookiesParse(headers.cookie)[SESSION_COOKIE];
  if (!sessionId) return undefined;
  const session = await sessionResolve(db, sessionId);
  if (!session) return undefined;
  if (session.kiosk_mac !== null) return kioskPrincipal(db, { ...session, kiosk_mac: session.kiosk_mac });
  const principal = await webUserPrincipal(db, session.user);
  return principal && { ...principal, session: session.id_sha256 };
}

const rootPrincipal = (): Principal => ({ name: ROOT_PRINCIPAL, kind: 'root', admin: true, groups: [] });

/** A unix account never reads the users table: a web user of the same name lends it nothing. */
const unixPrincipal = (account: string): Principal => ({ name: unixPrincipalName(account), kind: 'unix', unixAccount: account, admin: false, groups: [] });

/** A web user's row gives roles and groups; disabled or deleted: nobody. */
async function webUserPrincipal(db: Store, name: string): Promise<Principal | undefined> {
  const user = await db.selectFrom('users').select(['roles', 'disabled', 'mfa_secret']).where('name', '=', name).executeTakeFirst();
  if (!user || user.disabled === 1) return undefined;
  const groups = await db.selectFrom('user_groups').select('group').where('user', '=', name).orderBy('group').execute();
  const principal: Principal = { name, kind: 'user', admin: isAdmin(user), groups: groups.map((g) => g.group) };
  // An administrator who must enrol first holds no admin power until enrolled (server.ts lets only enrolment through).
  if (principal.admin && user.mfa_secret === null && mfaEnrolmentRequired(true, false, await new MfaService(db).siteSettings())) {
    return { ...principal, admin: false, mfaEnrolmentRequired: true };
  }
  return principal;
}
