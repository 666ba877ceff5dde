// Why a directory account may not log in: AD's userAccountControl, accountExpires, pwdLastSet, and the sub-code of a failed bind. Pure.
import type { ErrorCode } from '../contract/errors.js';

export type AccountRefusal = 'disabled' | 'expired' | 'must-change' | 'locked';

/** userAccountControl bits (MS-ADTS 2.2.16). */
const UAC_ACCOUNTDISABLE = 0x2;
const UAC_LOCKOUT = 0x10;
const UAC_DONT_EXPIRE_PASSWORD = 0x10000;
/** accountExpires counts 100 ns since 1601-01-01; 0 and 2^63-1 mean never. */
const FILETIME_EPOCH_OFFSET_MS = 11_644_473_600_000n;
const NEVER = 9_223_372_036_854_775_807n;

export interface AdAccountAttributes {
  userAccountControl?: string;
  accountExpires?: string;
  pwdLastSet?: string;
}

/** The first reason an AD entry may not log in, read from its attributes at `nowMs`; undefined when it may. */
export function adAccountRefusal(attrs: AdAccountAttributes, nowMs: number): AccountRefusal | undefined {
  const uac = Number(attrs.userAccountControl ?? '0');
  if (uac & UAC_ACCOUNTDISABLE) return 'disabled';
  if (attrs.accountExpires !== undefined && /^\d+$/.test(attrs.accountExpires)) {
    const ft = BigInt(attrs.accountExpires);
    if (ft !== 0n && ft !== NEVER && ft / 10_000n - FILETIME_EPOCH_OFFSET_MS <= BigInt(nowMs)) return 'expired';
  }
  if (uac & UAC_LOCKOUT) return 'locked';
  if (attrs.pwdLastSet === '0' && !(uac & UAC_DONT_EXPIRE_PASSWORD)) return 'must-change';
  return undefined;
}

/**
 * The reason in AD's failed-bind text (`AcceptSecurityContext error, data 533, …`): 52e wrong password or unknown user
 * (undefined: an ordinary failure), 530/531 outside logon hours or workstations count as disabled.
 */
export function adBindRefusal(diagnostic: string): AccountRefusal | undefined {
  const m = /data ([0-9a-f]{3,4})\b/i.exec(diagnostic);
  switch (m?.[1]?.toLowerCase()) {
    case '533':
    case '530':
    case '531':
      return 'disabled';
    case '701':
      return 'expired';
    case '532':
    case '773':
      return 'must-change';
    case '775':
      return 'locked';
    default:
      return undefined;
  }
}

export const REFUSAL_ERRORS: Record<AccountRefusal, { code: ErrorCode; message: string }> = {
  disabled: { code: 'DIRECTORY_ACCOUNT_DISABLED', message: "your directory account is disabled; ask the directory's administrator" },
  expired: { code: 'DIRECTORY_ACCOUNT_EXPIRED', message: "your directory account has expired; ask the directory's administrator" },
  locked: { code: 'DIRECTORY_ACCOUNT_LOCKED', message: "your directory account is locked; wait or ask the directory's administrator" },
  'must-change': { code: 'DIRECTORY_PASSWORD_MUST_CHANGE', message: 'your directory password must be changed first; change it on a PC of your organisation' },
};
