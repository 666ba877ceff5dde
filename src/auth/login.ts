// Logins: password check behind per-user and per-address rate limits, then a browser session or an API token.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { ArdesiaError } from '../contract/errors.js';
import type { Me } from '../contract/users.js';
import { now } from '../lib/time.js';
import { auditAppend } from '../audit/log.js';
import { passwordVerify, passwordVerifyDummy } from './passwords.js';
import { LoginThrottle, retryText } from './rate-limit.js';
import { mfaEnrolmentRequired, MfaService, type SecondFactor } from './mfa-service.js';
import { sessionCreate, sessionDelete, sha256 } from './sessions.js';
import { rolesOf, type UserRow, type UsersService } from './users.js';

/** One message for an unknown user, a wrong password and a disabled account: the answer never tells which. */
export const LOGIN_FAILED_MESSAGE = 'wrong user name or password';

/** The outcome of one password check, for metrics. */
export type LoginResult = 'ok' | 'failed' | 'rate-limited';

/** Login tokens (`ardesia login`) end this long after they are issued unless `serve --token-ttl` says otherwise. */
export const TOKEN_TTL_DEFAULT_MS = 30 * 86_400_000;

/** The directory's password check for names that are not local accounts (src/directory). */
export interface DirectoryLogin {
  passwordLogin(typed: string, password: string): Promise<UserRow | undefined>;
}

export interface LoginOptions {
  /** Directory sources (serve --directory): names that are not local accounts are checked there. */
  directory?: DirectoryLogin;
  /** How long a login token lives. */
  tokenTtlMs?: number;
  clock?: () => number;
}

export class LoginService extends EventEmitter<{ login: [LoginResult] }> {
  readonly throttle = new LoginThrottle();
  readonly tokenTtlMs: number;
  readonly mfa: MfaService;
  private readonly clock: () => number;
  private readonly directory: DirectoryLogin | undefined;

  constructor(
    readonly users: UsersService,
    opts: LoginOptions = {},
  ) {
    super();
    this.tokenTtlMs = opts.tokenTtlMs ?? TOKEN_TTL_DEFAULT_MS;
    this.clock = opts.clock ?? Date.now;
    this.directory = opts.directory;
    this.mfa = new MfaService(users.db, this.clock);
  }

  /** The user's row when the password is right; LOGIN_RATE_LIMITED, before any hashing, when the attempt is over a limit. */
  async verify(user: string, password: string, address: string, code?: string): Promise<UserRow> {
    const verdict = this.throttle.reserve(user, address, this.clock());
    if (!verdict.allowed) {
      this.emit('login', 'rate-limited');
      const what = verdict.by === 'address' ? `address ${address}` : `user ${user} from address ${address}`;
      throw new ArdesiaError('LOGIN_RATE_LIMITED', `too many failed logins for ${what}; try again in ${retryText(verdict.retryAfterMs)}`, {
        retryAfterSeconds: Math.ceil(verdict.retryAfterMs / 1000),
      });
    }
    let row: UserRow | undefined;
    let ok = false;
    let factor: SecondFactor = 'not-enrolled';
    try {
      row = await this.users.row(user);
      if (this.directory && (!row || row.directory_source !== null)) {
        // A local account keeps its name; any other name (or a directory user's) is checked by binding to the directory.
        row = await this.directory.passwordLogin(user, password);
        ok = row !== undefined;
      } else ok = row ? await passwordVerify(row.password_hash, password) : await passwordVerifyDummy(password);
      // The second factor; a missing code counts as a failure too, so asking without one never resets the count.
      if (ok && row && row.disabled === 0) factor = await this.mfa.check(row, code);
    } finally {
      this.throttle.settle(verdict.attempt, ok && row?.disabled === 0 && row.kiosk === 0 && (factor === 'ok' || factor === 'not-enrolled'), this.clock());
    }
    // A kiosk account has no password login at all (only its thin clients open it: kiosk.ts).
    if (!row || !ok || row.disabled === 1 || row.kiosk === 1) {
      this.emit('login', 'failed');
      const reason = !row ? 'unknown-user' : row.kiosk === 1 ? 'kiosk-account' : !ok ? 'password' : 'disabled';
      await auditAppend(this.users.db, 'anonymous', 'auth.login-failed', user, { reason }, address);
      throw new ArdesiaError('LOGIN_FAILED', LOGIN_FAILED_MESSAGE);
    }
    if (factor === 'missing') throw new ArdesiaError('MFA_CODE_REQUIRED', `give the two-factor code of ${user}`);
    if (factor === 'wrong' || factor === 'replayed') {
      this.emit('login', 'failed');
      await auditAppend(this.users.db, 'anonymous', 'auth.login-failed', user, { reason: `mfa-${factor}` }, address);
      throw new ArdesiaError('MFA_CODE_WRONG', factor === 'replayed' ? 'that code was already used: wait for the next one' : 'wrong two-factor code');
    }
    this.emit('login', 'ok');
    await this.users.db.updateTable('users').set({ last_login_at: now() }).where('name', '=', row.name).execute();
    return row;
  }

  /** A browser login: a new session; returns the cookie value (the only copy of the id). */
  async sessionLogin(user: string, password: string, address: string, userAgent: string | undefined, code?: string): Promise<{ me: Me; sessionId: string }> {
    const row = await this.verify(user, password, address, code);
    const { id, idHash } = await sessionCreate(this.users.db, row.name, address, userAgent);
    await auditAppend(this.users.db, row.name, 'auth.login', row.name, { session: idHash.slice(0, 12) }, address);
    return { me: await this.me(row.name), sessionId: id };
  }

  /** A CLI login: a bearer token stored hashed in api_tokens, labelled so logout and disabling can revoke it. */
  async tokenLogin(user: string, password: string, address: string, label: string | undefined, code?: string): Promise<{ token: string; user: string; expiresAt: string }> {
    const row = await this.verify(user, password, address, code);
    const token = randomBytes(32).toString('base64url');
    const tokenLabel = label ?? 'ardesia login';
    const expiresAt = new Date(this.clock() + this.tokenTtlMs).toISOString();
    await this.users.db
      .insertInto('api_tokens')
      .values({ token_sha256: sha256(token), principal: row.name, kind: 'user', created_at: now(), label: tokenLabel, expires_at: expiresAt })
      .execute();
    await auditAppend(this.users.db, row.name, 'auth.token', row.name, { label: tokenLabel }, address);
    return { token, user: row.name, expiresAt };
  }

  /** Ends the session of the cookie, or revokes the login token presented (never a root or vm-owner file token). */
  async logout(who: { name: string; session?: string; tokenId?: string }, address: string): Promise<void> {
    if (who.session) await sessionDelete(this.users.db, who.session);
    if (who.tokenId) {
      await this.users.db.deleteFrom('api_tokens').where('token_sha256', '=', who.tokenId).where('kind', '=', 'user').execute();
    }
    await auditAppend(this.users.db, who.name, 'auth.logout', who.name, { session: who.session !== undefined }, address);
  }

  async me(name: string): Promise<Me> {
    const row = await this.users.row(name);
    const noMfa = { enabled: false, enrolmentRequired: false };
    if (!row) return { user: name, admin: name === 'root', roles: name === 'root' ? ['admin', 'user'] : ['user'], groups: [], keyboardLayout: 'us', mfa: noMfa };
    const admin = rolesOf(row).includes('admin');
    const enabled = row.mfa_secret !== null;
    const mfa = { enabled, enrolmentRequired: mfaEnrolmentRequired(admin, enabled, await this.mfa.siteSettings()) };
    return { user: row.name, admin, roles: rolesOf(row), groups: await this.users.groupsOf(name), keyboardLayout: row.keyboard_layout, mfa };
  }
}
