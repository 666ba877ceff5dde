// A desktop moving live: its source QEMU's exit is the hand-off when the move succeeds, and the desktop's end when the
// move failed (passed on after it); outside a move an exit is passed on at once. Pure logic over a fake VM.
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import type { GuestVm, GuestVmEvent } from '../hypervisor/guest-vm.js';
import { DesktopGuests, type GuestSink } from './desktop-guests.js';

/** A VM whose guest channel never connects; the test fires its events. */
function fakeVm(): { vm: GuestVm; fire(e: GuestVmEvent): void } {
  const listeners = new Set<(e: GuestVmEvent) => void>();
  const vm: GuestVm = {
    pid: 4242,
    host: 'a1',
    copyDisk: async () => undefined,
    connectGuest: () => new Duplex({ read() {}, write(_c, _e, done) { done(); } }),
    plugDisk: async () => undefined,
    unplugDisk: async () => true,
    diskPlugged: async () => false,
    onEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return { vm, fire: (e) => [...listeners].forEach((l) => l(e)) };
}

test('an exit while moving: dropped when the move succeeds, passed on after it when it fails, at once otherwise', async () => {
  const cases: Array<{ moving: 'no' | 'succeeds' | 'fails'; want: string[] }> = [
    { moving: 'no', want: ['d1: QEMU exited'] },
    { moving: 'succeeds', want: [] },
    { moving: 'fails', want: ['d1: QEMU exited'] },
  ];
  for (const c of cases) {
    const { vm, fire } = fakeVm();
    const exits: string[] = [];
    const sink: GuestSink = { event: () => undefined, exited: (name, reason) => void exits.push(`${name}: ${reason}`), loginStage: () => undefined, sessionStarted: () => undefined, clipboard: () => undefined };
    const guests = new DesktopGuests(async () => vm, pino({ level: 'silent' }), sink);
    await guests.watch('d1');
    if (c.moving === 'no') fire({ kind: 'exited', reason: 'QEMU exited' });
    else {
      const moved = guests.whileMoving('d1', async () => {
        fire({ kind: 'exited', reason: 'QEMU exited' });
        assert.deepEqual(exits, [], 'nothing passed on during the move');
        if (c.moving === 'fails') throw new Error('the destination failed');
        return 'moved';
      });
      if (c.moving === 'fails') await assert.rejects(moved, /destination failed/);
      else assert.equal(await moved, 'moved');
    }
    assert.deepEqual(exits, c.want, c.moving);
    assert.equal(guests.has('d1'), false, 'the exited guest is forgotten');
    guests.closeAll();
  }
});

test("a move waits for the guest channel: settled at once when connected, when it connects, or after the bound if it never does", async () => {
  const sink: GuestSink = { event: () => undefined, exited: () => undefined, loginStage: () => undefined, sessionStarted: () => undefined, clipboard: () => undefined };
  const cases: Array<{ connectAfterMs: number | null; boundMs: number; want: boolean }> = [
    { connectAfterMs: 0, boundMs: 5_000, want: true },
    { connectAfterMs: 30, boundMs: 5_000, want: true },
    { connectAfterMs: null, boundMs: 50, want: false },
  ];
  for (const c of cases) {
    const { vm } = fakeVm();
    const socket = new Duplex({ read() {}, write(_c, _e, done) { done(); } });
    vm.connectGuest = () => socket;
    const guests = new DesktopGuests(async () => vm, pino({ level: 'silent' }), sink);
    const guest = (await guests.watch('d1'))!;
    if (c.connectAfterMs === 0) socket.emit('connect');
    else if (c.connectAfterMs !== null) setTimeout(() => socket.emit('connect'), c.connectAfterMs);
    assert.equal(await guest.channelSettled(c.boundMs), c.want, JSON.stringify(c));
    guests.closeAll();
  }
});
