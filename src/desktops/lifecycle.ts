// The pool desktop lifecycle as a transition table: state + event (+ pool policy) → next state + effects.
// Pure: effects are data the I/O shell runs in order; an illegal event is refused with a reason to log.
//
//   provisioning ─provisioned→ stopped (cold) ─boot-requested→ booting ─guest-ready→ ready (warm)
//   ready ─assign→ assigned ─session-started→ in-use ⇄ disconnected ─logoff / idle→ logging-off
//   session end ─→ resetting ─reset-done→ stopped (non-persistent, or the policy says reset)
//               ─→ ready | booting | stopped              (persistent, kept)
//   failed ─retry→ resetting (a fresh clone) | stopped (a persistent owner's kept disk)
//   booting | ready ─daemon-stopped→ stopped: the daemon's own stop (--stop-vms-on-exit) is not a failure
//   booting | ready | assigned ─host-unreachable→ resetting: a disposable desktop on a host that went silent before a
//               session started lets its user go at once (the connect brokers another); the reset waits for the VM
//   start mode restore: a fresh disk starts as a clone of the pool's template (restore-vm) instead of a boot;
//   booting ─restore-failed→ booting: the template is rebuilt and this desktop boots (start-vm) meanwhile
//   booting ─restore-unfit→ booting: placed on a host whose QEMU cannot load the template, it boots there (template kept)
//
// The cold tier is the state `stopped`; a reset lands there (not in ready) so that every boot, also after a
// reset, goes through the spare planner's boot-storm limit. Ownership (DesktopView.user) is data beside the
// state: a persistent desktop keeps its owner after logoff, a reset of a non-persistent one clears it.
import type { DesktopState, OnLogoff } from '../contract/pools.js';

export type { DesktopState } from '../contract/pools.js';

export type DesktopEventType =
  | 'provisioned' // the overlay and VM definition exist
  | 'provision-failed'
  | 'boot-requested' // the planner or broker wants this cold desktop running
  | 'stop-requested' // the planner moves a warm spare to the cold tier
  | 'boot-failed' // QEMU failed to start, or the guest helper never said ready
  | 'restore-failed' // the template's state did not load into the clone (QEMU is gone)
  | 'restore-unfit' // the clone was placed on another host whose QEMU or accelerator is not the template's: nothing ran
  | 'guest-ready' // guest helper: ready
  | 'assign' // the broker hands the desktop to event.user
  | 'session-started' // guest helper: session started
  | 'client-connected'
  | 'client-disconnected'
  | 'idle-timeout' // in-use: idleDisconnectMinutes passed; disconnected: idleLogoffMinutes passed
  | 'logoff-requested' // the user or an admin asked to log off
  | 'logoff-timeout' // the guest did not confirm the logoff in time
  | 'session-ended' // guest helper: session ended (logoff)
  | 'guest-reboot' // QMP RESET with a guest reason, or helper: session ended by reboot
  | 'guest-shutdown' // QMP SHUTDOWN with a guest reason
  | 'vm-exited' // the QEMU process is gone without a guest shutdown (crash, kill, host failure)
  | 'daemon-stopped' // the daemon stopped the VM itself on its way out (serve --stop-vms-on-exit): not a failure
  | 'host-lost' // the VM's host was judged down (its storage lease expired): the VM is gone with it, its leases free
  | 'host-unreachable' // the VM's host stopped answering (its link went silent) before a session started on it
  | 'reset' // an admin asked to re-clone the system disk
  | 'retry' // an admin (or the planner, after a pause) tries a failed desktop again
  | 'reset-done'
  | 'reset-failed'
  | 'reset-resume' // a reset stalled on a VM its unreachable host could not stop: the VM is gone now (host lost, or stopped)
  | 'reset-retry' // an administrator's reset of a reset so stalled: its stop tried again (the host may be back)
  | 'image-updated' // the pool's target image version changed
  | 'retire'; // destroy the desktop

export type DesktopEvent = { type: 'assign'; user: string } | { type: Exclude<DesktopEventType, 'assign'> };

/** Pool policy and the desktop's data the table needs. */
export interface DesktopContext {
  persistent: boolean;
  onLogoff: OnLogoff;
  /** Whether the desktop's image version is the pool's target version. */
  versionIsCurrent: boolean;
  /** The desktop's recorded user (session user or persistent owner), null for a spare. */
  user?: string | null;
  /** restore: the pool's template is ready, so a fresh disk starts as its clone; boot otherwise (pools.ts). */
  startMode?: 'boot' | 'restore';
}

export type DesktopEffect =
  | { kind: 'start-vm' }
  | { kind: 'restore-vm' } // a fresh overlay on the template's frozen one, its state loaded, the guest told `resumed`
  | { kind: 'template-rebuild' } // the pool's template failed a restore: removed and built again
  | { kind: 'stop-vm'; force: boolean }
  | { kind: 'set-user'; user: string | null } // record the desktop's user/owner
  | { kind: 'attach-home'; user: string } // lease the user's home volume, hot-plug it
  | { kind: 'release-home' } // hot-unplug the home volume (if attached) and release its lease
  | { kind: 'notify-guest'; message: { type: 'assign'; user: string } | { type: 'logoff' } }
  | { kind: 'disconnect-clients' }
  | { kind: 'destroy-and-reclone' } // the VM is off: replace the system disk by a fresh clone of the pool's target version
  | { kind: 'retire' }; // stop the VM if alive, release the home, remove VM, overlay and record

export type TransitionResult = { next: DesktopState; effects: DesktopEffect[] } | { refused: string };

type Outcome = TransitionResult;
type RuleFn = (ctx: Required<DesktopContext>, event: DesktopEvent) => Outcome;

/** How a stopped desktop starts: a template's clone when the pool restores and the disk is disposable (a spare, or
 *  one reset at session end anyway); a persistent owner's kept disk always boots (a clone would replace it). */
function startEffect(ctx: Required<DesktopContext>): DesktopEffect {
  return ctx.startMode === 'restore' && (ctx.user === null || resetsAtSessionEnd(ctx)) ? { kind: 'restore-vm' } : { kind: 'start-vm' };
}
type Rule = Outcome | RuleFn;

const stay = (state: DesktopState): Outcome => ({ next: state, effects: [] });
const go = (next: DesktopState, ...effects: DesktopEffect[]): Outcome => ({ next, effects });
const FORCE_STOP: DesktopEffect = { kind: 'stop-vm', force: true };
const RELEASE_HOME: DesktopEffect = { kind: 'release-home' };
const RECLONE: DesktopEffect = { kind: 'destroy-and-reclone' };
const LOGOFF: DesktopEffect = { kind: 'notify-guest', message: { type: 'logoff' } };

/** Whether the end of a session (or a guest reboot/shutdown) re-clones the system disk. */
export function resetsAtSessionEnd(ctx: Pick<DesktopContext, 'persistent' | 'onLogoff' | 'versionIsCurrent'>): boolean {
  if (!ctx.persistent) return true;
  return ctx.onLogoff === 'reset' || (ctx.onLogoff === 'keep-until-update' && !ctx.versionIsCurrent);
}

/** A non-persistent desktop has a user only for a session (or a reservation while booting): gone with it. */
const clearSharedUser = (ctx: Required<DesktopContext>): DesktopEffect[] => (!ctx.persistent && ctx.user !== null ? [{ kind: 'set-user', user: null }] : []);

/** A reset of a non-persistent desktop hands it back to the spares; a persistent one keeps its owner. */
function resetAfterSession(ctx: Required<DesktopContext>): Outcome {
  return go('resetting', FORCE_STOP, ...stepsAfterStop(ctx));
}

/** The reset's steps once its VM is off. */
function stepsAfterStop(ctx: Required<DesktopContext>): DesktopEffect[] {
  return [...(ctx.user === null ? [] : [RELEASE_HOME]), ...clearSharedUser(ctx), RECLONE];
}

type SessionEnd = 'logoff' | 'reboot' | 'shutdown' | 'logoff-timeout' | 'vm-gone';

/** The session is over; the VM may still run (logoff), be rebooting, or be gone. */
function endSession(how: SessionEnd): Rule {
  return (ctx) => {
    if (resetsAtSessionEnd(ctx)) return resetAfterSession(ctx);
    switch (how) {
      case 'logoff':
        return go('ready', RELEASE_HOME);
      case 'reboot':
        return go('booting', RELEASE_HOME); // re-attached and re-assigned to the owner at guest-ready
      case 'shutdown':
        return go('stopped', { kind: 'stop-vm', force: false }, RELEASE_HOME);
      case 'logoff-timeout':
        return go('stopped', FORCE_STOP, RELEASE_HOME);
      case 'vm-gone':
        return go('stopped', RELEASE_HOME);
    }
  };
}

/** The boot of a reserved non-persistent desktop failed: the reservation goes. */
function bootEnds(next: 'stopped' | 'failed', ...effects: DesktopEffect[]): Rule {
  return (ctx) => go(next, ...effects, ...clearSharedUser(ctx));
}

/** Re-clone a desktop out of session (admin reset, image update); a live VM is pulled first. */
function reclone(vmLive: boolean): RuleFn {
  return (ctx) => go('resetting', ...(vmLive ? [FORCE_STOP] : []), ...clearSharedUser(ctx), RECLONE);
}

/** A failed desktop tried again: a spare (or a desktop whose disk resets anyway) from a fresh clone; a persistent
 *  owner's kept disk is booted again as it is (a re-clone is the administrator's explicit reset). */
const retryFailed: RuleFn = (ctx, event) => (ctx.user !== null && !resetsAtSessionEnd(ctx) ? go('stopped', FORCE_STOP) : reclone(true)(ctx, event));

/** Out of session on a host gone silent: a disposable desktop lets its user (a reservation, or an assignment whose
 *  session never started) go before its stop, which waits for the host; its home, if plugged, is released after the
 *  stop (the store's lease keeps it meanwhile). A persistent owner's kept disk waits for its host, as it is. */
function unreachableOutOfSession(homeMayBeAttached: boolean): RuleFn {
  return (ctx) => {
    if (ctx.user !== null && !resetsAtSessionEnd(ctx)) return { refused: "a persistent owner's kept desktop waits for its host" };
    return go('resetting', ...clearSharedUser(ctx), FORCE_STOP, ...(homeMayBeAttached ? [RELEASE_HOME] : []), RECLONE);
  };
}

/** Assignment is refused when the desktop already belongs to someone else: never someone else's desktop. */
function assignTo(from: 'stopped' | 'booting' | 'ready'): Rule {
  return (ctx, event) => {
    if (event.type !== 'assign') return { refused: 'internal: assign without a user' };
    if (ctx.user !== null && ctx.user !== event.user) return { refused: `the desktop belongs to ${ctx.user}, not ${event.user}` };
    const setUser: DesktopEffect = { kind: 'set-user', user: event.user };
    if (from === 'stopped') return go('booting', setUser, startEffect({ ...ctx, user: event.user }));
    if (from === 'booting') return go('booting', setUser); // attached and told at guest-ready
    return go('assigned', setUser, { kind: 'attach-home', user: event.user }, { kind: 'notify-guest', message: { type: 'assign', user: event.user } });
  };
}

/** A desktop out of session on an old image version is re-cloned onto the current one at once, unless its
 *  persistent owner keeps the system disk ('keep'). */
function recycleSpare(state: 'stopped' | 'booting' | 'ready'): RuleFn {
  return (ctx, event) => {
    if (ctx.versionIsCurrent) return stay(state);
    if (ctx.user !== null && !resetsAtSessionEnd(ctx)) return stay(state);
    return reclone(state !== 'stopped')(ctx, event);
  };
}

/** In session: the reboot/shutdown/crash of the guest ends it; version changes wait for the session end. */
const SESSION_ENDINGS = {
  'session-ended': endSession('logoff'),
  'guest-reboot': endSession('reboot'),
  'guest-shutdown': endSession('shutdown'),
  'vm-exited': endSession('vm-gone'),
  'daemon-stopped': endSession('vm-gone'),
  'host-lost': endSession('vm-gone'),
} satisfies Partial<Record<DesktopEventType, Rule>>;

const IN_SESSION = 'a user has a session on it: log them off first';

/** Out of session on a host that died: a disposable disk is cloned afresh (nobody vouches for what the VM left half
 *  written), so the planner boots it on another host; a persistent owner's kept disk waits for them, stopped. */
const lostOutOfSession: RuleFn = (ctx, event) => (ctx.user !== null && !resetsAtSessionEnd(ctx) ? go('stopped') : reclone(false)(ctx, event));

const TRANSITIONS: Record<DesktopState, Partial<Record<DesktopEventType, Rule>>> = {
  provisioning: {
    provisioned: go('stopped'),
    'provision-failed': go('failed'),
    retire: go('retiring', { kind: 'retire' }),
  },
  stopped: {
    'boot-requested': (ctx) => go('booting', startEffect(ctx)),
    'stop-requested': stay('stopped'),
    assign: assignTo('stopped'),
    'vm-exited': stay('stopped'),
    'host-lost': stay('stopped'),
    'image-updated': recycleSpare('stopped'),
    reset: reclone(false),
    retire: go('retiring', { kind: 'retire' }),
  },
  booting: {
    'guest-ready': (ctx) =>
      ctx.user === null
        ? go('ready')
        : go('assigned', { kind: 'attach-home', user: ctx.user }, { kind: 'notify-guest', message: { type: 'assign', user: ctx.user } }),
    'boot-failed': bootEnds('failed', FORCE_STOP),
    // QEMU 7.2 exits when a load fails: the desktop boots in a new process, the template is made again.
    'restore-failed': go('booting', { kind: 'template-rebuild' }, { kind: 'start-vm' }),
    // The template is sound (it restores on the hosts that run its QEMU): kept; this desktop boots (the restore step put
    // its disk back on the gold version).
    'restore-unfit': go('booting', { kind: 'start-vm' }),
    'boot-requested': stay('booting'),
    // A free spare on a host that takes nothing new (draining, down) is stopped at once, not when its boot ends.
    'stop-requested': (ctx) => (ctx.user === null ? go('stopped', FORCE_STOP) : { refused: `the desktop boots for ${ctx.user}` }),
    assign: assignTo('booting'),
    'guest-reboot': stay('booting'), // first-boot scripts may reboot; no session has started
    'guest-shutdown': bootEnds('stopped', { kind: 'stop-vm', force: false }),
    'vm-exited': bootEnds('failed'),
    'host-lost': lostOutOfSession,
    'host-unreachable': unreachableOutOfSession(false),
    'daemon-stopped': bootEnds('stopped'), // back to the cold tier; the planner boots it again
    'image-updated': recycleSpare('booting'),
    reset: reclone(true),
    // One booting for a user is theirs: the planner may have planned it as a free spare before the broker assigned it.
    retire: (ctx) => (ctx.user === null ? go('retiring', { kind: 'retire' }) : { refused: `the desktop boots for ${ctx.user}, whose session is starting: log them off once it has started, then retire it` }),
  },
  ready: {
    assign: assignTo('ready'),
    'stop-requested': go('stopped', { kind: 'stop-vm', force: false }),
    'guest-ready': stay('ready'),
    'boot-requested': stay('ready'),
    // A spare that reboots or shuts down by itself is reset when sessions reset: nobody vouches for its disk.
    'guest-reboot': (ctx) => (resetsAtSessionEnd(ctx) ? resetAfterSession(ctx) : go('booting')),
    'guest-shutdown': (ctx) => (resetsAtSessionEnd(ctx) ? resetAfterSession(ctx) : go('stopped', { kind: 'stop-vm', force: false })),
    'vm-exited': go('failed'),
    'host-lost': lostOutOfSession,
    'host-unreachable': unreachableOutOfSession(false),
    'daemon-stopped': go('stopped'),
    'image-updated': recycleSpare('ready'),
    reset: reclone(true),
    retire: go('retiring', { kind: 'retire' }),
  },
  assigned: {
    'session-started': go('in-use'),
    // The guest is ready without a session: the assign was lost (the daemon died before sending it); send it again.
    'guest-ready': (ctx) =>
      ctx.user === null ? { refused: 'no user is recorded for this assignment' } : go('assigned', { kind: 'attach-home', user: ctx.user }, { kind: 'notify-guest', message: { type: 'assign', user: ctx.user } }),
    'client-connected': stay('assigned'),
    'client-disconnected': stay('assigned'),
    'logoff-requested': go('logging-off', LOGOFF),
    'image-updated': stay('assigned'),
    'host-unreachable': unreachableOutOfSession(true),
    ...SESSION_ENDINGS,
    assign: (ctx, event) => (event.type === 'assign' && event.user === ctx.user ? stay('assigned') : { refused: `the desktop is assigned to ${ctx.user}` }),
    reset: { refused: IN_SESSION },
    retire: { refused: IN_SESSION },
  },
  'in-use': {
    'client-connected': stay('in-use'),
    'client-disconnected': go('disconnected'),
    'idle-timeout': go('disconnected', { kind: 'disconnect-clients' }),
    'session-started': stay('in-use'),
    'logoff-requested': go('logging-off', LOGOFF),
    'image-updated': stay('in-use'), // reset at the next session end (see resetsAtSessionEnd)
    ...SESSION_ENDINGS,
    reset: { refused: IN_SESSION },
    retire: { refused: IN_SESSION },
  },
  disconnected: {
    'client-connected': go('in-use'),
    'client-disconnected': stay('disconnected'),
    'idle-timeout': go('logging-off', LOGOFF),
    'session-started': stay('disconnected'),
    'logoff-requested': go('logging-off', LOGOFF),
    'image-updated': stay('disconnected'),
    ...SESSION_ENDINGS,
    reset: { refused: IN_SESSION },
    retire: { refused: IN_SESSION },
  },
  'logging-off': {
    'client-connected': stay('logging-off'),
    'client-disconnected': stay('logging-off'),
    'logoff-requested': stay('logging-off'),
    'idle-timeout': stay('logging-off'),
    'logoff-timeout': endSession('logoff-timeout'),
    'image-updated': stay('logging-off'),
    ...SESSION_ENDINGS,
    reset: { refused: 'the desktop is logging off and will be reset or kept by its policy; wait for it' },
    retire: { refused: 'the desktop is logging off; wait for it, then retire it' },
  },
  resetting: {
    'reset-done': go('stopped'),
    'reset-failed': go('failed'),
    // Always the home's release: a desktop whose user was let go early (host-unreachable) may still hold it.
    'reset-resume': (ctx) => go('resetting', RELEASE_HOME, ...clearSharedUser(ctx), RECLONE),
    'reset-retry': (ctx) => go('resetting', FORCE_STOP, RELEASE_HOME, ...clearSharedUser(ctx), RECLONE),
    'host-unreachable': (ctx) => go('resetting', ...clearSharedUser(ctx)),
    'vm-exited': stay('resetting'),
    'host-lost': stay('resetting'),
    'image-updated': stay('resetting'), // the re-clone takes the target version of its own time
    reset: stay('resetting'),
    retire: go('retiring', { kind: 'retire' }),
  },
  failed: {
    reset: reclone(true),
    retry: retryFailed,
    retire: go('retiring', { kind: 'retire' }),
    'vm-exited': stay('failed'),
    'host-lost': stay('failed'),
    'host-unreachable': (ctx) => go('failed', ...clearSharedUser(ctx)), // a boot's reservation there is let go
    'image-updated': stay('failed'),
  },
  retiring: {
    retire: go('retiring', { kind: 'retire' }), // re-run after a crash: every step of retire is idempotent
    'vm-exited': stay('retiring'),
    'host-lost': stay('retiring'),
    'image-updated': stay('retiring'),
  },
};

/** The guest said the session started (an `assigned` desktop's has not yet): what a host gone silent leaves running. */
export const hasSessionStarted = (s: DesktopState): boolean => s === 'in-use' || s === 'disconnected' || s === 'logging-off';

/** The one entry point: what a desktop in `state` does on `event`, or why it refuses. */
export function desktopTransition(state: DesktopState, event: DesktopEvent, ctx: DesktopContext): TransitionResult {
  const rule = TRANSITIONS[state]?.[event.type];
  if (rule === undefined) return { refused: `${event.type} is not possible while the desktop is ${state}` };
  return typeof rule === 'function' ? rule({ ...ctx, user: ctx.user ?? null, startMode: ctx.startMode ?? 'boot' }, event) : rule;
}

/** Whether `state` has a rule for `event` at all (it may still refuse in a given context). */
export function desktopAccepts(state: DesktopState, event: DesktopEventType): boolean {
  const rule = TRANSITIONS[state]?.[event];
  return rule !== undefined && !(typeof rule === 'object' && 'refused' in rule);
}

// The state predicates live in src/contract (the web app shares them); lifecycle.test.ts checks them against the table.
export { canAssign, canDestroy, canLogoff, canReset, canRetry, isCold, isFreeSpare, isInSession, isSpare, isWarm } from '../contract/desktop-states.js';
