// Two-factor sign-in, the store shell: enrolment (pending secret → confirmed with a code), the second-factor check at
// login (TOTP step recorded atomically, recovery codes spent atomically), reset by an administrator, the site rule.
import QRCode from 'qrcode';
import { ArdesiaError } from '../contract/errors.js';
import type { MfaEnrolment, MfaRecoveryCodes, MfaStatus, SiteSettings } from '../contract/users.js';
import { auditAppend } from '../audit/log.js';
import { now } from '../lib/time.js';
import type { Store } from '../store/db.js';
import { isRecoveryShaped, mfaSecretCreate, mfaUri, recoveryCodeHash, recoveryCodesCreate, totpCheck } from './mfa.js';
import type { Actor, UserRow } from './users.js';

/** The outcome of the second factor at login. */
export type SecondFactor = 'not-enrolled' | 'ok' | 'missing' | 'wrong' | 'replayed';

const SITE_ADMINS_MUST_USE_MFA = 'admins-must-use-mfa';

export class MfaService {
  constructor(
    readonly db: Store,
    private readonly clock: () => number = Date.now,
  ) {}

  async status(user: string): Promise<MfaStatus> {
    const row = await this.db.selectFrom('users').select(['mfa_secret', 'mfa_pending_secret']).where('name', '=', user).executeTakeFirst();
    if (!row) throw new ArdesiaError('USER_NOT_FOUND', `there is no user ${user}`);
    return { user, enabled: row.mfa_secret !== null, pending: row.mfa_pending_secret !== null, recoveryCodesLeft: await this.recoveryLeft(user) };
  }

  /** A new secret to scan; replaces an unconfirmed one. Refused while two-factor is on (a reset comes first). */
  async enrolStart(user: string, actor: Actor): Promise<MfaEnrolment> {
    const row = await this.db.selectFrom('users').select(['mfa_secret']).where('name', '=', user).executeTakeFirst();
    if (!row) throw new ArdesiaError('USER_NOT_FOUND', `there is no user ${user}`);
    if (row.mfa_secret !== null) throw new ArdesiaError('MFA_ALREADY_ENABLED', `two-factor sign-in is already on for ${user}`);
    const secret = mfaSecretCreate();
    await this.db.updateTable('users').set({ mfa_pending_secret: secret }).where('name', '=', user).execute();
    await auditAppend(this.db, actor.principal, 'user.mfa-enrol-start', user, undefined, actor.address);
    const uri = mfaUri(secret, user);
    const svg = await QRCode.toString(uri, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    return { secret, uri, qrCode: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}` };
  }

  /** Turns two-factor on once a code of the pending secret is right; the recovery codes are returned this once only. */
  async enrolConfirm(user: string, code: string, actor: Actor): Promise<MfaRecoveryCodes> {
    const row = await this.db.selectFrom('users').select(['mfa_secret', 'mfa_pending_secret']).where('name', '=', user).executeTakeFirst();
    if (!row) throw new ArdesiaError('USER_NOT_FOUND', `there is no user ${user}`);
    if (row.mfa_secret !== null) throw new ArdesiaError('MFA_ALREADY_ENABLED', `two-factor sign-in is already on for ${user}`);
    if (row.mfa_pending_secret === null) throw new ArdesiaError('MFA_NOT_PENDING', `no two-factor set-up was started for ${user}`);
    const verdict = totpCheck(row.mfa_pending_secret, code, this.clock(), null);
    if (!verdict.ok) throw new ArdesiaError('MFA_CODE_WRONG', 'that code is not the one the app shows for the QR code just scanned');
    const codes = recoveryCodesCreate();
    await this.db.transaction().execute(async (tx) => {
      await tx.updateTable('users').set({ mfa_secret: row.mfa_pending_secret, mfa_pending_secret: null, mfa_last_step: verdict.step }).where('name', '=', user).execute();
      await tx.deleteFrom('mfa_recovery_codes').where('user', '=', user).execute();
      await tx.insertInto('mfa_recovery_codes').values(codes.map((c) => ({ user, code_sha256: recoveryCodeHash(c), used_at: null }))).execute();
    });
    await auditAppend(this.db, actor.principal, 'user.mfa-enable', user, undefined, actor.address);
    return { recoveryCodes: codes };
  }

  /** An administrator turns a user's two-factor off (a lost phone); the user may enrol again. */
  async reset(user: string, actor: Actor): Promise<MfaStatus> {
    const r = await this.db.updateTable('users').set({ mfa_secret: null, mfa_pending_secret: null, mfa_last_step: null }).where('name', '=', user).executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw new ArdesiaError('USER_NOT_FOUND', `there is no user ${user}`);
    await this.db.deleteFrom('mfa_recovery_codes').where('user', '=', user).execute();
    await auditAppend(this.db, actor.principal, 'user.mfa-reset', user, undefined, actor.address);
    return this.status(user);
  }

  /**
   * The second factor of a login whose password was right. A TOTP step is recorded with a guarded update (only if
   * newer than the last), a recovery code spent with a guarded one, so two racing logins cannot both use one code.
   */
  async check(row: Pick<UserRow, 'name' | 'mfa_secret' | 'mfa_last_step'>, code: string | undefined): Promise<SecondFactor> {
    if (row.mfa_secret === null) return 'not-enrolled';
    if (code === undefined || code.trim() === '') return 'missing';
    if (isRecoveryShaped(code)) {
      const spent = await this.db
        .updateTable('mfa_recovery_codes')
        .set({ used_at: now() })
        .where('user', '=', row.name)
        .where('code_sha256', '=', recoveryCodeHash(code))
        .where('used_at', 'is', null)
        .executeTakeFirst();
      return Number(spent.numUpdatedRows) === 1 ? 'ok' : 'wrong';
    }
    const verdict = totpCheck(row.mfa_secret, code, this.clock(), row.mfa_last_step);
    if (!verdict.ok) return verdict.reason === 'replayed' ? 'replayed' : 'wrong';
    const taken = await this.db
      .updateTable('users')
      .set({ mfa_last_step: verdict.step })
      .where('name', '=', row.name)
      .where((eb) => eb.or([eb('mfa_last_step', 'is', null), eb('mfa_last_step', '<', verdict.step)]))
      .executeTakeFirst();
    return Number(taken.numUpdatedRows) === 1 ? 'ok' : 'replayed';
  }

  async siteSettings(): Promise<SiteSettings> {
    const row = await this.db.selectFrom('site_settings').select('value').where('key', '=', SITE_ADMINS_MUST_USE_MFA).executeTakeFirst();
    return { adminsMustUseMfa: row !== undefined && JSON.parse(row.value) === true };
  }

  async siteSettingsSet(patch: Partial<SiteSettings>, actor: Actor): Promise<SiteSettings> {
    if (patch.adminsMustUseMfa !== undefined) {
      const value = JSON.stringify(patch.adminsMustUseMfa);
      await this.db.transaction().execute(async (tx) => {
        await tx.deleteFrom('site_settings').where('key', '=', SITE_ADMINS_MUST_USE_MFA).execute();
        await tx.insertInto('site_settings').values({ key: SITE_ADMINS_MUST_USE_MFA, value }).execute();
      });
      await auditAppend(this.db, actor.principal, 'site.settings', SITE_ADMINS_MUST_USE_MFA, patch, actor.address);
    }
    return this.siteSettings();
  }

  private async recoveryLeft(user: string): Promise<number> {
    const rows = await this.db.selectFrom('mfa_recovery_codes').select('code_sha256').where('user', '=', user).where('used_at', 'is', null).execute();
    return rows.length;
  }
}

/** Pure: must this principal enrol before anything else? An administrator without two-factor on a site that requires it. */
export const mfaEnrolmentRequired = (admin: boolean, enrolled: boolean, site: SiteSettings): boolean => admin && !enrolled && site.adminsMustUseMfa;
