// The guest channel (design §4): line-delimited JSON on the virtio-serial port org.ardesia.guest.0
// between the agent and the guest helper (guest/linux/ardesia-guest-helper). The helper speaks a
// flat subset of JSON: string values without quotes or backslashes, unsigned integers.
import { z } from 'zod';
import { KeyboardLayout } from './users.js';

/** Values the shell helper can carry: no quote, backslash or control character. */
const ShellSafeText = z.string().regex(/^[^"\\\u0000-\u001f]*$/, 'no quotes, backslashes or control characters');

/** POSIX account names as the helper accepts them. */
export const GuestUserName = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'a user name is 1-32 of a-z, 0-9, "_" or "-", not starting with a digit or "-"');
/** virtio-blk serials are at most 20 bytes. */
export const HomeSerial = z.string().regex(/^[A-Za-z0-9._-]{1,20}$/, 'a disk serial is 1-20 letters, digits, ".", "_" or "-"');

export const AssignMessage = z.object({
  type: z.literal('assign'),
  user: GuestUserName,
  uid: z.number().int().min(1000).max(59999),
  homeSerial: HomeSerial,
  /** The user's XKB layout, `layout` or `layout-variant` (users.keyboard_layout); the session applies it with setxkbmap. */
  keyboardLayout: KeyboardLayout.optional(),
});
export type AssignMessage = z.infer<typeof AssignMessage>;
export const LogoffMessage = z.object({ type: z.literal('logoff') });
export const PingMessage = z.object({ type: z.literal('ping') });
/** A clone restored from a template: the helper takes a fresh identity (hostname, machine-id, clock), then says `ready`. */
export const ResumedMessage = z.object({
  type: z.literal('resumed'),
  hostname: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/, 'a host name is 1-63 letters, digits or "-"'),
  /** The host's clock, in seconds since the epoch (the clone's clock is the template's). */
  time: z.number().int().min(0),
  /** A new /etc/machine-id from the host (the clone's own random numbers may be the template's). */
  machineId: z.string().regex(/^[0-9a-f]{32}$/),
  /** A new MAC for the clone's network card (a pool with a network). */
  mac: z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/).optional(),
});
export type ResumedMessage = z.infer<typeof ResumedMessage>;

export const HostToGuestMessage = z.discriminatedUnion('type', [AssignMessage, LogoffMessage, PingMessage, ResumedMessage]);
export type HostToGuestMessage = z.infer<typeof HostToGuestMessage>;

/** Whether the guest's kernel reseeds on a new VM generation ID (CONFIG_VMGENID in its config; helper version 2). */
export const KernelVmgenid = z.enum(['yes', 'no', 'unknown']);
export type KernelVmgenid = z.infer<typeof KernelVmgenid>;
export const ReadyMessage = z.object({ type: z.literal('ready'), version: ShellSafeText, vmgenid: KernelVmgenid.optional() });
/** The assigned user's home volume is mounted (before the session starts): the login timeline's stage. */
export const HomeMountedMessage = z.object({ type: z.literal('home-mounted'), user: GuestUserName });
export const SessionStartedMessage = z.object({ type: z.literal('session-started'), user: GuestUserName });
export const SessionEndReason = z.enum(['logoff', 'shutdown', 'reboot']);
export type SessionEndReason = z.infer<typeof SessionEndReason>;
export const SessionEndedMessage = z.object({ type: z.literal('session-ended'), user: GuestUserName, reason: SessionEndReason });
/** Whether the session's clipboard agent is up (spice-vdagentd holds com.redhat.spice.0 and the session's spice-vdagent is
 *  connected to it): a paste sent before then is dropped in the guest, so the portal holds it until `ready`. */
export const ClipboardAgentState = z.enum(['ready', 'waiting']);
export type ClipboardAgentState = z.infer<typeof ClipboardAgentState>;
export const ClipboardMessage = z.object({ type: z.literal('clipboard'), state: ClipboardAgentState });
/** `user` is the helper's current session, if any: lets a restarted agent reconcile; `clipboard` its agent's state. */
export const PongMessage = z.object({ type: z.literal('pong'), user: GuestUserName.optional(), clipboard: ClipboardAgentState.optional() });
export const ErrorMessage = z.object({ type: z.literal('error'), message: ShellSafeText });

export const GuestToHostMessage = z.discriminatedUnion('type', [ReadyMessage, HomeMountedMessage, SessionStartedMessage, SessionEndedMessage, ClipboardMessage, PongMessage, ErrorMessage]);
export type GuestToHostMessage = z.infer<typeof GuestToHostMessage>;
export type GuestMessageType = GuestToHostMessage['type'];
