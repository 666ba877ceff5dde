// Wire types of users, groups, login and the audit log (daemon, CLI and web import these).
import { z } from 'zod';

export const ROLES = ['admin', 'user'] as const;
export type Role = (typeof ROLES)[number];

const UserName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'use 1-63 letters, digits, dot, dash or underscore, starting with a letter or digit');
const GroupName = UserName;
export const KeyboardLayout = z.string().regex(/^[a-z]{2,8}([-_][A-Za-z0-9]{1,12})?$/, 'a keyboard layout like us, de, fr or de-ch');
const Roles = z.array(z.enum(ROLES)).max(2);

/**
 * Which kind of principal: root (the root token), a web user (an Ardesia account: password, session, login token)
 * or a unix account (the token file of a vm.conf `owner`). A unix account and a web user of the same name are
 * different principals: neither ever gets the other's roles, pools, sessions or VMs.
 */
export type PrincipalKind = 'root' | 'user' | 'unix';

/** The principal name of a unix account: `unix:NAME` (a web user name cannot hold a colon, so the two never meet). */
export const unixPrincipalName = (account: string): string => `unix:${account}`;

/** Who is calling: resolved once per request from a bearer token or a browser session cookie. */
export interface Principal {
  /** User name; `root` for the root token; `unix:NAME` for a unix account's token. */
  name: string;
  kind: PrincipalKind;
  /** For kind unix: the account's name in /etc/passwd (what vm.conf `owner` names). */
  unixAccount?: string;
  /** Root, or a user with the admin role. */
  admin: boolean;
  groups: readonly string[];
  /** The browser session's id when authenticated by cookie (display tickets are bound to it). */
  session?: string;
  /** The sha256 of the bearer token when authenticated by one (logout revokes a login token by it). */
  tokenId?: string;
  /** A kiosk session: the thin client it is bound to and the pool that client names (only that desktop). */
  kiosk?: { mac: string; pool: string | null };
  /** An administrator the site requires to use two-factor sign-in, not yet enrolled: only enrolment routes, no admin power. */
  mfaEnrolmentRequired?: true;
}

export interface Me {
  user: string;
  admin: boolean;
  roles: Role[];
  groups: string[];
  keyboardLayout: string;
  /** Two-factor sign-in is on; enrolmentRequired: the site requires it of this administrator and it is not yet on. */
  mfa: MfaState;
}

export interface MfaState {
  enabled: boolean;
  enrolmentRequired: boolean;
}

/** The start of enrolment: the secret as text, its otpauth:// URI and the same as a QR code (an SVG data: URL). */
export interface MfaEnrolment {
  secret: string;
  uri: string;
  qrCode: string;
}

/** Shown once, when enrolment is confirmed: each works once in place of a code. */
export interface MfaRecoveryCodes {
  recoveryCodes: string[];
}

export interface MfaStatus {
  user: string;
  enabled: boolean;
  pending: boolean;
  recoveryCodesLeft: number;
}

/** Site settings an administrator changes at run time. */
export interface SiteSettings {
  adminsMustUseMfa: boolean;
}

export interface UserView {
  name: string;
  fullName: string;
  roles: Role[];
  groups: string[];
  admin: boolean;
  disabled: boolean;
  keyboardLayout: string;
  createdAt: string;
  lastLoginAt: string | null;
  /** The directory source that made this user and the login name it last gave; null for a local account. */
  directory: { source: string; login: string | null } | null;
  /** Two-factor sign-in is on. */
  mfaEnabled: boolean;
  /** A kiosk account (no password login, never an administrator). */
  kiosk: boolean;
}

/** A login token as listed (never its secret). */
export interface TokenView {
  id: number;
  user: string;
  label: string | null;
  createdAt: string;
  expiresAt: string | null;
  /** The token this request came with. */
  current: boolean;
}

export interface GroupView {
  name: string;
  members: string[];
}

export interface AuditEntry {
  id: number;
  at: string;
  principal: string;
  action: string;
  target: string;
  detail: unknown;
  address: string | null;
}

/** code: the TOTP or a recovery code, for a user with two-factor sign-in (without it such a login answers MFA_CODE_REQUIRED). */
export const LoginBody = z.object({ user: z.string().min(1).max(63), password: z.string().min(1).max(1024), code: z.string().min(1).max(32).optional() }).strict();
export const KioskLoginBody = z.object({ thinClient: z.string().min(1).max(32) }).strict();
export const MfaCodeBody = z.object({ code: z.string().min(1).max(32) }).strict();
export const SiteSettingsPatchBody = z.object({ adminsMustUseMfa: z.boolean().optional() }).strict();
export const TokenBody = LoginBody.extend({ label: z.string().min(1).max(100).optional() }).strict();

export const UserCreateBody = z
  .object({
    name: UserName,
    password: z.string().optional(),
    roles: Roles.optional(),
    groups: z.array(GroupName).optional(),
    fullName: z.string().max(200).optional(),
    keyboardLayout: KeyboardLayout.optional(),
    kiosk: z.boolean().optional(),
  })
  .strict();
export type UserCreateBody = z.infer<typeof UserCreateBody>;

export const UserPatchBody = z
  .object({
    roles: Roles.optional(),
    groups: z.array(GroupName).optional(),
    disabled: z.boolean().optional(),
    fullName: z.string().max(200).optional(),
    keyboardLayout: KeyboardLayout.optional(),
    kiosk: z.boolean().optional(),
  })
  .strict();
export type UserPatchBody = z.infer<typeof UserPatchBody>;

export const PasswordBody = z.object({ current: z.string().max(1024).optional(), password: z.string() }).strict();
export const GroupCreateBody = z.object({ name: GroupName }).strict();

export const AuditQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(10_000).default(200),
    /** Entries with an id below this (paging backwards). */
    before: z.coerce.number().int().min(1).optional(),
    action: z.string().max(100).optional(),
    principal: z.string().max(100).optional(),
  })
  .strict();
export type AuditQuery = z.infer<typeof AuditQuery>;
