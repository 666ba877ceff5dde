// Two-factor sign-in, the pure core: TOTP secrets (RFC 6238, via otpauth), the otpauth:// URI an app scans,
// a code check with a ±1 step window that refuses a step already used, and single-use recovery codes kept hashed.
import { createHash, randomBytes } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';

/** RFC 6238 defaults every authenticator app knows: SHA-1, 6 digits, 30 s steps. */
export const TOTP_PERIOD_S = 30;
export const TOTP_DIGITS = 6;
/** One step either side: a phone clock 30 s off still works. */
export const TOTP_WINDOW_STEPS = 1;
export const RECOVERY_CODE_COUNT = 10;
/** The issuer shown in the authenticator app next to the user name. */
export const MFA_ISSUER = 'Ardesia';

/** A new random secret (160 bits, RFC 4226's recommended length) as base32, the text form apps accept. */
export const mfaSecretCreate = (): string => new Secret({ size: 20 }).base32;

const totpOf = (secretBase32: string, user = ''): TOTP =>
  new TOTP({ issuer: MFA_ISSUER, label: user, algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD_S, secret: Secret.fromBase32(secretBase32) });

/** The otpauth://totp/… URI the QR code carries. */
export const mfaUri = (secretBase32: string, user: string): string => totpOf(secretBase32, user).toString();

/** The code an app shows at nowMs (tests compute codes with it, as a phone would). */
export const totpCode = (secretBase32: string, nowMs: number): string => totpOf(secretBase32).generate({ timestamp: nowMs });

/** The time step of nowMs (codes are bound to it; the last used one is stored per user). */
export const totpStep = (nowMs: number): number => Math.floor(nowMs / 1000 / TOTP_PERIOD_S);

export type TotpVerdict = { ok: true; step: number } | { ok: false; reason: 'format' | 'wrong' | 'replayed' };

/** A six-digit code as typed (spaces allowed: apps show "123 456"). */
export const isTotpShaped = (code: string): boolean => /^\d{6}$/.test(code.replace(/\s/g, ''));

/**
 * Checks a typed code against the secret at nowMs within ±1 step; a step at or before `lastStep` (the user's last
 * accepted one) is refused, so a code seen over a shoulder or in a log cannot be used again, nor an older one.
 */
export function totpCheck(secretBase32: string, code: string, nowMs: number, lastStep: number | null): TotpVerdict {
  const token = code.replace(/\s/g, '');
  if (!isTotpShaped(token)) return { ok: false, reason: 'format' };
  const delta = totpOf(secretBase32).validate({ token, timestamp: nowMs, window: TOTP_WINDOW_STEPS });
  if (delta === null) return { ok: false, reason: 'wrong' };
  const step = totpStep(nowMs) + delta;
  if (lastStep !== null && step <= lastStep) return { ok: false, reason: 'replayed' };
  return { ok: true, step };
}

/** Recovery codes: 10 random characters of a-z2-9 without look-alikes, shown as xxxxx-xxxxx. */
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

export function recoveryCodesCreate(count = RECOVERY_CODE_COUNT): string[] {
  const codes: string[] = [];
  for (let i = 0; i < count; i++) {
    const bytes = randomBytes(10);
    const chars = [...bytes].map((b) => RECOVERY_ALPHABET[b % RECOVERY_ALPHABET.length]).join('');
    codes.push(`${chars.slice(0, 5)}-${chars.slice(5)}`);
  }
  return codes;
}

/** The form a recovery code is compared in: lower case, no dashes or spaces (typed as shown or not). */
export const recoveryCodeNormalize = (code: string): string => code.toLowerCase().replace(/[\s-]/g, '');

/** The stored form: sha256 of the normalized code (50 random bits each, single use, behind the login throttle). */
export const recoveryCodeHash = (code: string): string => createHash('sha256').update(`ardesia-recovery:${recoveryCodeNormalize(code)}`).digest('hex');

/** Is this typed text shaped like a recovery code (so the login checks it against the hashes, not as TOTP)? */
export const isRecoveryShaped = (code: string): boolean => new RegExp(`^[${RECOVERY_ALPHABET}]{10}$`).test(recoveryCodeNormalize(code));
