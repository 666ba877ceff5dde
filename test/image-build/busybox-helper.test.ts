// The guest helper in the busybox test guest: ready → assign (blank home formatted and mounted) →
// a file written → logoff (unmounted) → a second boot with the same home finds the file.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GuestChannel } from '../../src/agent/guest-channel.js';
import { QemuRun } from '../guests/qemu-run.js';
import { KERNEL_APPEND, buildHelperGuest, guestPortArgs } from './helper-guest.js';

const CHANNEL_TIMEOUT_MS = 90_000;

describe('guest helper in the busybox test guest', () => {
  let dir: string;
  let guest: { root: string; kernel: string; initrd: string };
  let home: string;
  let vm: QemuRun | undefined;
  let channel: GuestChannel | undefined;

  before(() => {
    dir = mkdtempSync('/tmp/agh-');
    guest = buildHelperGuest(dir);
    home = join(dir, 'home.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', home, '64M']);
  });

  after(async () => {
    channel?.close();
    await vm?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  async function bootWithHome(): Promise<{ vm: QemuRun; channel: GuestChannel }> {
    const socketPath = join(dir, 'g.sock');
    rmSync(socketPath, { force: true });
    const run = await QemuRun.start('qemu-system-x86_64', [
      '-accel', 'tcg', '-m', '192', '-smp', '1',
      '-kernel', guest.kernel, '-initrd', guest.initrd, '-append', KERNEL_APPEND,
      '-drive', `file=${guest.root},if=none,id=system,format=raw`, '-device', 'virtio-blk-pci,drive=system',
      '-drive', `file=${home},if=none,id=home,format=qcow2`, '-device', 'virtio-blk-pci,drive=home,serial=ardesia-home',
      ...guestPortArgs(socketPath),
    ], dir);
    const ch = new GuestChannel(socketPath).open();
    return { vm: run, channel: ch };
  }

  async function shutDown(): Promise<void> {
    channel?.close();
    await vm?.kill();
    vm = undefined;
    channel = undefined;
  }

  it('formats a blank home, mounts it for the user, and unmounts it on logoff', async () => {
    ({ vm, channel } = await bootWithHome());
    const ready = await channel.waitFor('ready', undefined, CHANNEL_TIMEOUT_MS);
    assert.equal(ready.version, '2');
    // The busybox guest has no kernel config to read: whether its kernel reseeds on a new VM generation is unknown.
    assert.equal(ready.vmgenid, 'unknown');
    assert.deepEqual(await roundTrip(channel, { type: 'ping' }, 'pong'), { type: 'pong' });

    // The home is reported mounted (the login timeline's stage) before the session is reported started.
    const order: string[] = [];
    const mounted = channel.waitFor('home-mounted', (m) => m.user === 'alice', CHANNEL_TIMEOUT_MS).then(() => order.push('home-mounted'));
    const started = channel.waitFor('session-started', (m) => m.user === 'alice', CHANNEL_TIMEOUT_MS).then(() => order.push('session-started'));
    channel.send({ type: 'assign', user: 'alice', uid: 1001, homeSerial: 'ardesia-home' });
    await Promise.all([mounted, started]);
    assert.deepEqual(order, ['home-mounted', 'session-started']);
    await vm.typeUntil('mount | grep /home/alice', '/home/alice type ext4', 20_000);
    await vm.typeUntil("grep -c '^alice:x:1001:' /etc/passwd", '\n1', 10_000);
    await vm.typeUntil('echo kept-across-boots > /home/alice/note.txt && sync && echo WROTE-$((6*7))', 'WROTE-42', 10_000);
    assert.deepEqual(await roundTrip(channel, { type: 'ping' }, 'pong'), { type: 'pong', user: 'alice' });

    const ended = channel.waitFor('session-ended', undefined, CHANNEL_TIMEOUT_MS);
    channel.send({ type: 'logoff' });
    assert.deepEqual(await ended, { type: 'session-ended', user: 'alice', reason: 'logoff' });
    await vm.typeUntil('echo MOUNTS-$(grep -c /home/alice /proc/mounts)', 'MOUNTS-0', 10_000);
    await shutDown();
  });

  it('keeps the files on the next boot: the home is mounted, not formatted again', async () => {
    ({ vm, channel } = await bootWithHome());
    await channel.waitFor('ready', undefined, CHANNEL_TIMEOUT_MS);
    const started = channel.waitFor('session-started', (m) => m.user === 'alice', CHANNEL_TIMEOUT_MS);
    channel.send({ type: 'assign', user: 'alice', uid: 1001, homeSerial: 'ardesia-home' });
    await started;
    await vm.typeUntil('cat /home/alice/note.txt', 'kept-across-boots', 20_000);
    // A clone restored from a template takes the identity the host gives, then says ready again.
    const again = channel.waitFor('ready', undefined, CHANNEL_TIMEOUT_MS);
    channel.send({ type: 'resumed', hostname: 'clone-7', time: Math.floor(Date.now() / 1000), machineId: 'c'.repeat(32) });
    await again;
    await vm.typeUntil('echo "ID-$(hostname)-$(cat /etc/machine-id)"', `ID-clone-7-${'c'.repeat(32)}`, 20_000);
    const refused = channel.waitFor('error', undefined, CHANNEL_TIMEOUT_MS);
    channel.send({ type: 'assign', user: 'bob', uid: 1002, homeSerial: 'ardesia-home' });
    assert.match((await refused).message, /session for alice is active/);
    const ended = channel.waitFor('session-ended', undefined, CHANNEL_TIMEOUT_MS);
    channel.send({ type: 'logoff' });
    await ended;
    await shutDown();
  });
});

async function roundTrip<T extends 'pong'>(channel: GuestChannel, message: { type: 'ping' }, reply: T) {
  const answer = channel.waitFor(reply, undefined, CHANNEL_TIMEOUT_MS);
  channel.send(message);
  return answer;
}
