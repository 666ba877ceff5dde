// The thin-client inventory's wire types and input schemas (API contract, "Thin clients"); the web app shares them.
import { z } from 'zod';
import { normalizeMac } from './ipv4.js';

export type ThinClientState = 'new' | 'enabled' | 'disabled';

export interface ThinClientView {
  mac: string;
  name: string | null;
  place: string | null;
  pool: string | null;
  state: ThinClientState;
  keyboardLayout: string | null;
  resolution: string | null;
  bootParams: string | null;
  lastSeenAt: string | null;
  lastIp: string | null;
  bootCount: number;
  currentUser: string | null;
  /** The kiosk account opened at boot with no login page. */
  kioskUser: string | null;
}

/** What the kiosk of a booted thin client reads from /boot/thinclient/config: only what it uses (unauthenticated). */
export interface KioskConfig {
  portalUrl: string;
  keyboardLayout: string | null;
  resolution: string | null;
}

export const MacText = z.string().transform((text, ctx) => {
  try {
    return normalizeMac(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a MAC address like 52:54:00:12:34:56' });
    return z.NEVER;
  }
});

const nullable = <T extends z.ZodTypeAny>(schema: T) => schema.nullable().optional();

/**
 * Kernel words go into an iPXE script line, so only the characters kernel parameters use are let
 * through: no control characters (a newline adds a command), no `${` expansions, and none of iPXE's
 * own script tokens (`||`, `&&`, `;` end a command and start another, `#` a comment, quotes and `\` re-group words).
 */
export const BOOT_PARAMS_ALLOWED = /^[A-Za-z0-9 ._,:=/+@%~*()[\]-]*$/;

/** The first character of `text` iPXE could read as script, or undefined when every word is a plain kernel word. */
export function bootParamsUnsafeChar(text: string): string | undefined {
  for (const ch of text) if (!BOOT_PARAMS_ALLOWED.test(ch)) return ch;
  return undefined;
}

export const BootParamsText = z.string().max(1024).superRefine((s, ctx) => {
  const bad = bootParamsUnsafeChar(s);
  if (bad !== undefined) {
    const shown = /^[\x21-\x7e]$/.test(bad) ? `'${bad}'` : `U+${bad.codePointAt(0)!.toString(16).padStart(4, '0')}`;
    ctx.addIssue({ code: 'custom', message: `must not contain ${shown}: only letters, digits, spaces and . _ , : = / + @ % ~ * ( ) [ ] - (iPXE would read | & ; # $ quotes and \\ as script)` });
  }
});

/** Screen modes a thin client can be given: the Linux kernel's built-in EDIDs (drm.edid_firmware), set before the compositor starts. */
export const SCREEN_MODES = ['800x600', '1024x768', '1280x1024', '1600x1200', '1680x1050', '1920x1080'] as const;

/** The settings an administrator may give; any other field is refused, naming these. */
const SETTINGS = ['name', 'place', 'pool', 'state', 'keyboardLayout', 'resolution', 'bootParams', 'kioskUser'] as const;

/** Refuses unknown fields by name; the old auto-login field points to its successor, kioskUser (a kiosk account). */
const unknownFieldMessage: z.ZodErrorMap = (issue, ctx) => {
  if (issue.code !== 'unrecognized_keys') return { message: ctx.defaultError };
  const autoLogin = issue.keys.includes('autoLoginUser') ? ' (a thin client opens a kiosk account: kioskUser)' : '';
  return { message: `unknown field ${issue.keys.join(', ')}${autoLogin}; the settings are ${SETTINGS.join(', ')}` };
};

export const ThinClientPatch = z
  .object({
    name: nullable(z.string().min(1).max(63).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, . _ - (starting with a letter or digit)')),
    place: nullable(z.string().min(1).max(200).regex(/^[^\x00-\x1f\x7f]*$/, 'no control characters')),
    pool: nullable(z.string().min(1).max(63).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a pool name')),
    state: z.enum(['enabled', 'disabled']).optional(),
    keyboardLayout: nullable(z.string().min(1).max(64).regex(/^[A-Za-z0-9_()+,:-]+$/, 'an XKB layout like us, de or fr(bepo)')),
    resolution: nullable(z.enum(SCREEN_MODES, { errorMap: () => ({ message: `one of ${SCREEN_MODES.join(', ')} (the modes the kiosk can set), or null for the screen's own` }) })),
    bootParams: nullable(BootParamsText),
    kioskUser: nullable(z.string().min(1).max(63).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a user name (a kiosk account)')),
  }, { errorMap: unknownFieldMessage })
  .strict();
export type ThinClientPatch = z.infer<typeof ThinClientPatch>;

/** An administrator adds a PC before its first boot (from a purchase list, say): its MAC and settings; enabled unless said. */
export const ThinClientCreate = ThinClientPatch.extend({ mac: MacText });
export type ThinClientCreate = z.infer<typeof ThinClientCreate>;

export const MacParams = z.object({ mac: MacText });
