import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DESKTOP_STATES, type DesktopState } from '../contract/pools.js';
import {
  canAssign,
  canDestroy,
  canLogoff,
  canReset,
  canRetry,
  type DesktopContext,
  type DesktopEffect,
  type DesktopEvent,
  type DesktopEventType,
  desktopAccepts,
  desktopTransition,
  isFreeSpare,
  isInSession,
  isSpare,
  resetsAtSessionEnd,
} from './lifecycle.js';
import { mulberry32 } from '../lib/prng.js';

const EVENT_TYPES: DesktopEventType[] = [
  'provisioned', 'provision-failed', 'boot-requested', 'stop-requested', 'boot-failed', 'restore-failed', 'restore-unfit', 'guest-ready', 'assign', 'session-started',
  'client-connected', 'client-disconnected', 'idle-timeout', 'logoff-requested', 'logoff-timeout', 'session-ended',
  'guest-reboot', 'guest-shutdown', 'vm-exited', 'daemon-stopped', 'host-lost', 'host-unreachable', 'reset', 'retry', 'reset-done', 'reset-failed', 'reset-resume', 'reset-retry', 'image-updated', 'retire',
];

// Contexts: a spare of a non-persistent pool, one in ann's session, and persistent desktops owned by ann.
const SPARE: DesktopContext = { persistent: false, onLogoff: 'reset', versionIsCurrent: true, user: null };
const ANN: DesktopContext = { ...SPARE, user: 'ann' };
const OLD_SPARE: DesktopContext = { ...SPARE, versionIsCurrent: false };
const KEEP: DesktopContext = { persistent: true, onLogoff: 'keep', versionIsCurrent: true, user: 'ann' };
const KEEP_OLD: DesktopContext = { ...KEEP, versionIsCurrent: false };
const KUU: DesktopContext = { ...KEEP, onLogoff: 'keep-until-update' };
const KUU_OLD: DesktopContext = { ...KUU, versionIsCurrent: false };
const P_RESET: DesktopContext = { ...KEEP, onLogoff: 'reset' };
const P_SPARE: DesktopContext = { ...KEEP, user: null };
// The same in a pool whose template is ready (start mode restore).
const R_SPARE: DesktopContext = { ...SPARE, startMode: 'restore' };
const R_KEEP: DesktopContext = { ...KEEP, startMode: 'restore' };
const R_P_RESET: DesktopContext = { ...P_RESET, startMode: 'restore' };
const R_P_SPARE: DesktopContext = { ...P_SPARE, startMode: 'restore' };

const ev = (type: DesktopEventType, user = 'ann'): DesktopEvent => (type === 'assign' ? { type, user } : { type });
const START: DesktopEffect = { kind: 'start-vm' };
const RESTORE: DesktopEffect = { kind: 'restore-vm' };
const REBUILD: DesktopEffect = { kind: 'template-rebuild' };
const STOP: DesktopEffect = { kind: 'stop-vm', force: false };
const KILL: DesktopEffect = { kind: 'stop-vm', force: true };
const RECLONE: DesktopEffect = { kind: 'destroy-and-reclone' };
const RELEASE: DesktopEffect = { kind: 'release-home' };
const RETIRE: DesktopEffect = { kind: 'retire' };
const CLEAR: DesktopEffect = { kind: 'set-user', user: null };
const OWN: DesktopEffect = { kind: 'set-user', user: 'ann' };
const ATTACH: DesktopEffect = { kind: 'attach-home', user: 'ann' };
const TELL_ASSIGN: DesktopEffect = { kind: 'notify-guest', message: { type: 'assign', user: 'ann' } };
const TELL_LOGOFF: DesktopEffect = { kind: 'notify-guest', message: { type: 'logoff' } };
const DISCONNECT: DesktopEffect = { kind: 'disconnect-clients' };
const RESET_FREE = [KILL, RELEASE, CLEAR, RECLONE];
const RESET_OWNED = [KILL, RELEASE, RECLONE];

type Case = [DesktopState, DesktopEventType, DesktopContext, DesktopState, DesktopEffect[]];
const LEGAL: Case[] = [
  ['provisioning', 'provisioned', SPARE, 'stopped', []],
  ['provisioning', 'provision-failed', SPARE, 'failed', []],
  ['provisioning', 'retire', SPARE, 'retiring', [RETIRE]],
  ['stopped', 'boot-requested', SPARE, 'booting', [START]],
  ['stopped', 'assign', SPARE, 'booting', [OWN, START]],
  ['stopped', 'assign', KEEP, 'booting', [OWN, START]],
  ['stopped', 'boot-requested', R_SPARE, 'booting', [RESTORE]],
  ['stopped', 'boot-requested', R_P_SPARE, 'booting', [RESTORE]],
  ['stopped', 'assign', R_SPARE, 'booting', [OWN, RESTORE]],
  // A persistent owner's kept disk boots: a clone would replace it. One reset at session end anyway is a clone.
  ['stopped', 'assign', R_KEEP, 'booting', [OWN, START]],
  ['stopped', 'boot-requested', R_KEEP, 'booting', [START]],
  ['stopped', 'assign', R_P_RESET, 'booting', [OWN, RESTORE]],
  ['booting', 'restore-failed', R_SPARE, 'booting', [REBUILD, START]],
  ['booting', 'restore-failed', { ...R_SPARE, user: 'ann' }, 'booting', [REBUILD, START]],
  // Placed on a host whose QEMU cannot load the template: it boots there, and the template is not rebuilt.
  ['booting', 'restore-unfit', R_SPARE, 'booting', [START]],
  ['booting', 'restore-unfit', { ...R_SPARE, user: 'ann' }, 'booting', [START]],
  ['stopped', 'vm-exited', SPARE, 'stopped', []],
  ['stopped', 'host-lost', SPARE, 'stopped', []],
  ['stopped', 'stop-requested', SPARE, 'stopped', []],
  ['ready', 'stop-requested', SPARE, 'stopped', [STOP]],
  ['booting', 'stop-requested', SPARE, 'stopped', [KILL]],
  ['stopped', 'image-updated', OLD_SPARE, 'resetting', [RECLONE]],
  ['stopped', 'image-updated', SPARE, 'stopped', []],
  ['stopped', 'image-updated', KEEP_OLD, 'stopped', []],
  ['stopped', 'image-updated', KUU_OLD, 'resetting', [RECLONE]],
  ['stopped', 'reset', SPARE, 'resetting', [RECLONE]],
  ['stopped', 'retire', SPARE, 'retiring', [RETIRE]],
  ['booting', 'guest-ready', SPARE, 'ready', []],
  ['booting', 'guest-ready', ANN, 'assigned', [ATTACH, TELL_ASSIGN]],
  ['booting', 'boot-failed', SPARE, 'failed', [KILL]],
  ['booting', 'boot-requested', SPARE, 'booting', []],
  ['booting', 'assign', SPARE, 'booting', [OWN]],
  ['booting', 'guest-reboot', SPARE, 'booting', []],
  ['booting', 'guest-shutdown', SPARE, 'stopped', [STOP]],
  ['booting', 'vm-exited', SPARE, 'failed', []],
  ['booting', 'vm-exited', ANN, 'failed', [CLEAR]],
  // Its host died: a disposable disk is cloned afresh for a boot elsewhere; a persistent owner's kept disk waits, stopped.
  ['booting', 'host-lost', SPARE, 'resetting', [RECLONE]],
  ['booting', 'host-lost', ANN, 'resetting', [CLEAR, RECLONE]],
  ['booting', 'host-lost', KEEP, 'stopped', []],
  ['booting', 'boot-failed', ANN, 'failed', [KILL, CLEAR]],
  ['booting', 'boot-failed', KEEP, 'failed', [KILL]],
  ['booting', 'guest-shutdown', ANN, 'stopped', [STOP, CLEAR]],
  ['booting', 'image-updated', OLD_SPARE, 'resetting', [KILL, RECLONE]],
  ['booting', 'image-updated', SPARE, 'booting', []],
  ['booting', 'reset', SPARE, 'resetting', [KILL, RECLONE]],
  ['booting', 'reset', ANN, 'resetting', [KILL, CLEAR, RECLONE]],
  ['booting', 'image-updated', { ...ANN, versionIsCurrent: false }, 'resetting', [KILL, CLEAR, RECLONE]],
  ['booting', 'retire', SPARE, 'retiring', [RETIRE]],
  ['booting', 'daemon-stopped', SPARE, 'stopped', []],
  ['booting', 'daemon-stopped', ANN, 'stopped', [CLEAR]],
  ['booting', 'daemon-stopped', KEEP, 'stopped', []],
  ['ready', 'daemon-stopped', SPARE, 'stopped', []],
  ['assigned', 'daemon-stopped', ANN, 'resetting', RESET_FREE],
  ['in-use', 'daemon-stopped', ANN, 'resetting', RESET_FREE],
  ['in-use', 'daemon-stopped', KEEP, 'stopped', [RELEASE]],
  ['disconnected', 'daemon-stopped', ANN, 'resetting', RESET_FREE],
  ['logging-off', 'daemon-stopped', ANN, 'resetting', RESET_FREE],
  ['failed', 'retry', SPARE, 'resetting', [KILL, RECLONE]],
  ['failed', 'retry', ANN, 'resetting', [KILL, CLEAR, RECLONE]],
  ['failed', 'retry', KEEP, 'stopped', [KILL]],
  ['failed', 'retry', KUU_OLD, 'resetting', [KILL, RECLONE]],
  ['failed', 'retry', P_RESET, 'resetting', [KILL, RECLONE]],
  ['ready', 'assign', SPARE, 'assigned', [OWN, ATTACH, TELL_ASSIGN]],
  ['ready', 'assign', KEEP, 'assigned', [OWN, ATTACH, TELL_ASSIGN]],
  ['ready', 'guest-ready', SPARE, 'ready', []],
  ['ready', 'boot-requested', SPARE, 'ready', []],
  ['ready', 'guest-reboot', SPARE, 'resetting', [KILL, RECLONE]],
  ['ready', 'guest-reboot', KEEP, 'booting', []],
  ['ready', 'guest-shutdown', SPARE, 'resetting', [KILL, RECLONE]],
  ['ready', 'guest-shutdown', P_RESET, 'resetting', RESET_OWNED],
  ['ready', 'guest-shutdown', KEEP, 'stopped', [STOP]],
  ['ready', 'vm-exited', SPARE, 'failed', []],
  ['ready', 'host-lost', SPARE, 'resetting', [RECLONE]],
  ['ready', 'host-lost', P_SPARE, 'resetting', [RECLONE]],
  ['ready', 'host-lost', KEEP, 'stopped', []],
  ['ready', 'image-updated', OLD_SPARE, 'resetting', [KILL, RECLONE]],
  ['ready', 'image-updated', SPARE, 'ready', []],
  ['ready', 'image-updated', { ...P_SPARE, versionIsCurrent: false }, 'resetting', [KILL, RECLONE]],
  ['ready', 'image-updated', KEEP_OLD, 'ready', []],
  ['ready', 'reset', SPARE, 'resetting', [KILL, RECLONE]],
  ['ready', 'retire', SPARE, 'retiring', [RETIRE]],
  ['assigned', 'session-started', ANN, 'in-use', []],
  ['assigned', 'guest-ready', ANN, 'assigned', [ATTACH, TELL_ASSIGN]],
  ['assigned', 'client-connected', ANN, 'assigned', []],
  ['assigned', 'client-disconnected', ANN, 'assigned', []],
  ['assigned', 'logoff-requested', ANN, 'logging-off', [TELL_LOGOFF]],
  ['assigned', 'image-updated', ANN, 'assigned', []],
  ['assigned', 'assign', ANN, 'assigned', []],
  ['assigned', 'session-ended', ANN, 'resetting', RESET_FREE],
  ['assigned', 'guest-reboot', ANN, 'resetting', RESET_FREE],
  ['assigned', 'guest-shutdown', ANN, 'resetting', RESET_FREE],
  ['assigned', 'vm-exited', ANN, 'resetting', RESET_FREE],
  ['in-use', 'client-connected', ANN, 'in-use', []],
  ['in-use', 'client-disconnected', ANN, 'disconnected', []],
  ['in-use', 'idle-timeout', ANN, 'disconnected', [DISCONNECT]],
  ['in-use', 'session-started', ANN, 'in-use', []],
  ['in-use', 'logoff-requested', ANN, 'logging-off', [TELL_LOGOFF]],
  ['in-use', 'image-updated', ANN, 'in-use', []],
  ['in-use', 'session-ended', ANN, 'resetting', RESET_FREE],
  ['in-use', 'session-ended', KEEP, 'ready', [RELEASE]],
  ['in-use', 'session-ended', KEEP_OLD, 'ready', [RELEASE]],
  ['in-use', 'session-ended', KUU, 'ready', [RELEASE]],
  ['in-use', 'session-ended', KUU_OLD, 'resetting', RESET_OWNED],
  ['in-use', 'session-ended', P_RESET, 'resetting', RESET_OWNED],
  ['in-use', 'guest-reboot', ANN, 'resetting', RESET_FREE],
  ['in-use', 'guest-reboot', KEEP, 'booting', [RELEASE]],
  ['in-use', 'guest-shutdown', ANN, 'resetting', RESET_FREE],
  ['in-use', 'guest-shutdown', KEEP, 'stopped', [STOP, RELEASE]],
  ['in-use', 'vm-exited', ANN, 'resetting', RESET_FREE],
  ['in-use', 'vm-exited', KEEP, 'stopped', [RELEASE]],
  // In session: the session ends as after a crash; the home's lease expired with the host, so it is released here.
  ['in-use', 'host-lost', ANN, 'resetting', RESET_FREE],
  ['in-use', 'host-lost', KEEP, 'stopped', [RELEASE]],
  ['disconnected', 'host-lost', ANN, 'resetting', RESET_FREE],
  ['logging-off', 'host-lost', ANN, 'resetting', RESET_FREE],
  ['assigned', 'host-lost', ANN, 'resetting', RESET_FREE],
  ['resetting', 'host-lost', ANN, 'resetting', []],
  // A reset whose force-stop its unreachable host could not carry out goes on once the VM is gone: never before, or
  // the home would be released while the VM may still write it.
  ['resetting', 'reset-resume', ANN, 'resetting', [RELEASE, CLEAR, RECLONE]],
  ['resetting', 'reset-resume', SPARE, 'resetting', [RELEASE, RECLONE]],
  ['resetting', 'reset-resume', P_RESET, 'resetting', [RELEASE, RECLONE]],
  // An administrator's reset of a stalled reset tries its stop again, then goes on as a resumed one.
  ['resetting', 'reset-retry', ANN, 'resetting', [KILL, RELEASE, CLEAR, RECLONE]],
  ['resetting', 'reset-retry', SPARE, 'resetting', [KILL, RELEASE, RECLONE]],
  ['failed', 'host-lost', SPARE, 'failed', []],
  // A host gone silent before a session started there: the user is let go at once (their connect brokers another
  // desktop); the VM's stop waits for the host, and the home (if the assign plugged it) is released only after it.
  ['booting', 'host-unreachable', ANN, 'resetting', [CLEAR, KILL, RECLONE]],
  ['booting', 'host-unreachable', SPARE, 'resetting', [KILL, RECLONE]],
  ['ready', 'host-unreachable', SPARE, 'resetting', [KILL, RECLONE]],
  ['assigned', 'host-unreachable', ANN, 'resetting', [CLEAR, KILL, RELEASE, RECLONE]],
  ['assigned', 'host-unreachable', P_RESET, 'resetting', [KILL, RELEASE, RECLONE]],
  ['resetting', 'host-unreachable', ANN, 'resetting', [CLEAR]],
  ['resetting', 'host-unreachable', P_RESET, 'resetting', []],
  ['failed', 'host-unreachable', ANN, 'failed', [CLEAR]],
  ['retiring', 'host-lost', SPARE, 'retiring', []],
  ['disconnected', 'client-connected', ANN, 'in-use', []],
  ['disconnected', 'client-disconnected', ANN, 'disconnected', []],
  ['disconnected', 'idle-timeout', ANN, 'logging-off', [TELL_LOGOFF]],
  ['disconnected', 'session-started', ANN, 'disconnected', []],
  ['disconnected', 'logoff-requested', ANN, 'logging-off', [TELL_LOGOFF]],
  ['disconnected', 'image-updated', ANN, 'disconnected', []],
  ['disconnected', 'session-ended', ANN, 'resetting', RESET_FREE],
  ['disconnected', 'guest-reboot', KUU, 'booting', [RELEASE]],
  ['disconnected', 'guest-shutdown', ANN, 'resetting', RESET_FREE],
  ['disconnected', 'vm-exited', ANN, 'resetting', RESET_FREE],
  ['logging-off', 'client-connected', ANN, 'logging-off', []],
  ['logging-off', 'client-disconnected', ANN, 'logging-off', []],
  ['logging-off', 'logoff-requested', ANN, 'logging-off', []],
  ['logging-off', 'idle-timeout', ANN, 'logging-off', []],
  ['logging-off', 'logoff-timeout', ANN, 'resetting', RESET_FREE],
  ['logging-off', 'logoff-timeout', KEEP, 'stopped', [KILL, RELEASE]],
  ['logging-off', 'image-updated', ANN, 'logging-off', []],
  ['logging-off', 'session-ended', ANN, 'resetting', RESET_FREE],
  ['logging-off', 'session-ended', KEEP, 'ready', [RELEASE]],
  ['logging-off', 'guest-reboot', ANN, 'resetting', RESET_FREE],
  ['logging-off', 'guest-shutdown', KEEP, 'stopped', [STOP, RELEASE]],
  ['logging-off', 'vm-exited', ANN, 'resetting', RESET_FREE],
  ['resetting', 'reset-done', SPARE, 'stopped', []],
  ['resetting', 'reset-failed', SPARE, 'failed', []],
  ['resetting', 'vm-exited', SPARE, 'resetting', []],
  ['resetting', 'image-updated', SPARE, 'resetting', []],
  ['resetting', 'reset', SPARE, 'resetting', []],
  ['resetting', 'retire', SPARE, 'retiring', [RETIRE]],
  ['failed', 'reset', SPARE, 'resetting', [KILL, RECLONE]],
  ['failed', 'retire', SPARE, 'retiring', [RETIRE]],
  ['failed', 'vm-exited', SPARE, 'failed', []],
  ['failed', 'image-updated', SPARE, 'failed', []],
  ['retiring', 'retire', SPARE, 'retiring', [RETIRE]],
  ['retiring', 'vm-exited', SPARE, 'retiring', []],
  ['retiring', 'image-updated', SPARE, 'retiring', []],
];

for (const [from, type, ctx, next, effects] of LEGAL) {
  test(`${from} + ${type} (${JSON.stringify(ctx)}) → ${next}`, () => {
    assert.deepEqual(desktopTransition(from, ev(type), ctx), { next, effects });
  });
}

test('every (state, event) the table accepts has a case above', () => {
  const covered = new Set(LEGAL.map(([s, e]) => `${s}/${e}`));
  for (const state of DESKTOP_STATES) {
    for (const type of EVENT_TYPES) {
      if (desktopAccepts(state, type)) assert.ok(covered.has(`${state}/${type}`), `${state} + ${type} has a rule but no test case`);
    }
  }
});

const ILLEGAL: Array<[DesktopState, DesktopEvent, DesktopContext, RegExp]> = [
  ['provisioning', ev('assign'), SPARE, /assign is not possible while the desktop is provisioning/],
  ['booting', ev('stop-requested'), ANN, /the desktop boots for ann/],
  ['booting', ev('retire'), ANN, /the desktop boots for ann, whose session is starting/],
  ['stopped', ev('guest-ready'), SPARE, /not possible while the desktop is stopped/],
  ['ready', ev('session-started'), SPARE, /not possible/],
  ['ready', ev('client-connected'), SPARE, /not possible/],
  ['ready', ev('assign', 'bob'), KEEP, /belongs to ann, not bob/],
  ['stopped', ev('assign', 'bob'), KEEP, /belongs to ann/],
  ['booting', ev('assign', 'bob'), ANN, /belongs to ann/],
  ['assigned', ev('assign', 'bob'), ANN, /assigned to ann/],
  ['in-use', ev('assign'), ANN, /not possible/],
  ['in-use', ev('retire'), ANN, /log them off first/],
  ['disconnected', ev('reset'), ANN, /log them off first/],
  ['assigned', ev('retire'), ANN, /log them off first/],
  ['logging-off', ev('retire'), ANN, /logging off/],
  ['logging-off', ev('reset'), ANN, /wait for it/],
  ['resetting', ev('assign'), SPARE, /not possible/],
  ['resetting', ev('boot-requested'), SPARE, /not possible/],
  ['failed', ev('boot-requested'), SPARE, /not possible/],
  ['failed', ev('assign'), SPARE, /not possible/],
  ['ready', ev('retry'), SPARE, /retry is not possible while the desktop is ready/],
  ['resetting', ev('retry'), SPARE, /not possible/],
  ['stopped', ev('daemon-stopped'), SPARE, /not possible/],
  ['ready', ev('restore-failed'), R_SPARE, /restore-failed is not possible while the desktop is ready/],
  ['stopped', ev('restore-failed'), R_SPARE, /not possible/],
  ['ready', ev('restore-unfit'), R_SPARE, /restore-unfit is not possible while the desktop is ready/],
  ['retiring', ev('reset'), SPARE, /not possible/],
  ['retiring', ev('assign'), SPARE, /not possible/],
  ['stopped', ev('reset-done'), SPARE, /not possible/],
  ['ready', ev('idle-timeout'), SPARE, /not possible/],
  ['assigned', ev('host-unreachable'), KEEP, /persistent owner's kept desktop waits for its host/],
  ['ready', ev('host-unreachable'), KEEP, /persistent owner's kept desktop waits/],
  ['in-use', ev('host-unreachable'), ANN, /not possible/],
];

for (const [from, event, ctx, reason] of ILLEGAL) {
  test(`${from} + ${event.type} is refused`, () => {
    const r = desktopTransition(from, event, ctx);
    assert.ok('refused' in r, `expected a refusal, got ${JSON.stringify(r)}`);
    assert.match(r.refused, reason);
  });
}

test('reset policy: non-persistent always, persistent by onLogoff and image currency', () => {
  const rows = [SPARE, OLD_SPARE, KEEP, KEEP_OLD, KUU, KUU_OLD, P_RESET].map((c) => resetsAtSessionEnd(c));
  assert.deepEqual(rows, [true, true, false, false, false, true, true]);
});

test('predicates agree with the table', () => {
  for (const s of DESKTOP_STATES) {
    const ok = (type: DesktopEventType, ctx: DesktopContext) => !('refused' in desktopTransition(s, ev(type), ctx));
    assert.equal(canAssign(s), ok('assign', SPARE), `canAssign(${s})`);
    assert.equal(canLogoff(s), ok('logoff-requested', ANN) && s !== 'logging-off', `canLogoff(${s})`);
    assert.equal(canReset(s), ok('reset', SPARE) && s !== 'resetting', `canReset(${s})`);
    assert.equal(canDestroy(s), ok('retire', SPARE) && s !== 'retiring', `canDestroy(${s})`);
    assert.equal(canRetry(s), ok('retry', SPARE), `canRetry(${s})`);
    assert.equal(canRetry(s), s === 'failed', `only a failed desktop is retried (${s})`);
    // The contract's explicit state lists (the web app's buttons) match the table's rules.
    assert.equal(canReset(s), desktopAccepts(s, 'reset') && s !== 'resetting', `canReset(${s}) vs desktopAccepts`);
    assert.equal(canRetry(s), desktopAccepts(s, 'retry'), `canRetry(${s}) vs desktopAccepts`);
    assert.equal(canDestroy(s), desktopAccepts(s, 'retire') && s !== 'retiring', `canDestroy(${s}) vs desktopAccepts`);
    if (isInSession(s)) assert.ok(!canDestroy(s) && !canReset(s) && !isSpare(s), `${s} is protected while in session`);
  }
  assert.deepEqual(DESKTOP_STATES.filter(isSpare), ['provisioning', 'stopped', 'booting', 'ready']);
  assert.equal(isFreeSpare({ state: 'ready', user: null }), true);
  assert.equal(isFreeSpare({ state: 'ready', user: 'ann' }), false);
});


test('random event sequences stay within the defined states and keep homes and owners consistent', () => {
  const contexts = [SPARE, KEEP, KUU, P_RESET, P_SPARE];
  const users = ['ann', 'bob'];
  for (let seed = 1; seed <= 300; seed++) {
    const rand = mulberry32(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const policy = pick(contexts);
    let state: DesktopState = 'provisioning';
    let user: string | null = policy.persistent ? policy.user ?? null : null;
    let homeAttached = false;
    let versionIsCurrent = true;
    for (let step = 0; step < 200; step++) {
      const type = pick(EVENT_TYPES);
      if (type === 'image-updated') versionIsCurrent = false;
      const r = desktopTransition(state, type === 'assign' ? { type, user: pick(users) } : { type }, { ...policy, versionIsCurrent, user });
      if ('refused' in r) {
        assert.ok(r.refused.length > 0, 'a refusal carries a reason');
        continue;
      }
      assert.ok(DESKTOP_STATES.includes(r.next), `seed ${seed}: undefined state ${String(r.next)}`);
      for (const effect of r.effects) {
        if (effect.kind === 'set-user') user = effect.user;
        if (effect.kind === 'attach-home') {
          // A lost assign is re-sent in full (assigned + guest-ready): attach-home is idempotent for the same desktop.
          const reassign = state === 'assigned' && type === 'guest-ready';
          if (!reassign) assert.equal(homeAttached, false, `seed ${seed}: home attached twice (${state} + ${type})`);
          assert.equal(effect.user, user, `seed ${seed}: home of ${effect.user} attached to ${user}'s desktop`);
          homeAttached = true;
        }
        if (effect.kind === 'release-home' || effect.kind === 'retire') homeAttached = false;
        if (effect.kind === 'destroy-and-reclone') {
          assert.equal(homeAttached, false, `seed ${seed}: system disk re-cloned with the home still attached`);
          versionIsCurrent = true;
        }
      }
      if (!isInSession(r.next)) assert.equal(homeAttached, false, `seed ${seed}: home still attached in ${r.next}`);
      if (!policy.persistent && r.next !== 'booting' && (isSpare(r.next) || r.next === 'failed')) {
        assert.equal(user, null, `seed ${seed}: ${r.next} desktop still has user ${user} (${state} + ${type})`);
      }
      state = r.next;
    }
  }
});
