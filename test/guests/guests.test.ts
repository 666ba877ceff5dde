// Boots every cached test guest under TCG with raw QEMU and checks what other tests rely on:
// the banner, a working shell, the virtio-serial port, ACPI power-off, reboot, ISO and UEFI boot.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, afterEach, before, describe, it } from 'node:test';
import { guestArtifacts, type GuestArtifacts } from '../helpers/guests.js';
import { QemuRun } from './qemu-run.js';

/** Failure bounds only: TCG on a busy 2-core machine can be slow. */
const BOOT_TIMEOUT_MS = 90_000;
const UEFI_BOOT_TIMEOUT_MS = 150_000;
const SHELL_TIMEOUT_MS = 30_000;
const GUEST_PORT = 'org.ardesia.guest.0';
const TCG = ['-accel', 'tcg', '-m', '256'];
const KERNEL_APPEND = 'console=ttyS0 root=/dev/vda rw quiet';

let guests: GuestArtifacts;
let dir: string;
let running: QemuRun | undefined;

async function boot(binary: string, args: string[]): Promise<QemuRun> {
  running = await QemuRun.start(binary, [...TCG, ...args], dir);
  return running;
}

/** Connects to the host end of the virtio-serial port and collects what the guest writes. */
function listenGuestPort(path: string): { socket: Socket; received: () => string } {
  let text = '';
  const socket = connect(path);
  socket.on('data', (d: Buffer) => (text += d.toString()));
  socket.on('error', () => undefined);
  return { socket, received: () => text };
}

async function pollUntil(test: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test() && Date.now() < deadline) await delay(50);
}

before(() => {
  guests = guestArtifacts();
  dir = mkdtempSync('/tmp/ag-');
});

afterEach(async () => {
  await running?.kill();
  running = undefined;
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('test guests', () => {
  it('amd64 boots from its root disk, runs a shell, links the guest port and powers off on the ACPI button', async () => {
    const overlay = join(dir, 'root.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', guests.amd64.rootQcow2, overlay]);
    const portPath = join(dir, 'guest.sock');
    const vm = await boot('qemu-system-x86_64', [
      '-kernel', guests.amd64.kernel, '-initrd', guests.amd64.initrd, '-append', KERNEL_APPEND,
      '-drive', `file=${overlay},if=virtio,format=qcow2`,
      '-device', 'virtio-serial-pci',
      '-chardev', `socket,id=guestch,path=${portPath},server=on,wait=off`,
      '-device', `virtserialport,chardev=guestch,name=${GUEST_PORT}`,
    ]);
    const port = listenGuestPort(portPath);
    const bannerMs = await vm.waitForSerial(guests.amd64.banner, BOOT_TIMEOUT_MS);
    console.log(`# amd64 (root disk): cont → banner ${bannerMs} ms`);
    await vm.typeUntil('echo hi-$((1+1))', 'hi-2', SHELL_TIMEOUT_MS);
    await vm.typeUntil(`echo root=$(awk '$2=="/"{print $1}' /proc/mounts)`, 'root=/dev/vda', SHELL_TIMEOUT_MS);
    await vm.typeUntil(`echo port-$((2+3)) > /dev/virtio-ports/${GUEST_PORT} && echo sent-$((3+4))`, 'sent-7', SHELL_TIMEOUT_MS);
    await pollUntil(() => port.received().includes('port-5'), SHELL_TIMEOUT_MS);
    assert.match(port.received(), /port-5/);
    port.socket.destroy();
    await vm.command('system_powerdown');
    const shutdown = await vm.waitForEvent('SHUTDOWN', SHELL_TIMEOUT_MS);
    assert.deepEqual(shutdown.data, { guest: true, reason: 'guest-shutdown' });
    assert.equal(await vm.waitForExit(SHELL_TIMEOUT_MS), 0);
  });

  it('amd64 kernel + initrd boot disk-less, and `reboot` at the shell resets the guest', async () => {
    const vm = await boot('qemu-system-x86_64', ['-no-reboot', '-kernel', guests.amd64.kernel, '-initrd', guests.amd64.initrd, '-append', KERNEL_APPEND]);
    const bannerMs = await vm.waitForSerial(guests.amd64.banner, BOOT_TIMEOUT_MS);
    console.log(`# amd64 (disk-less): cont → banner ${bannerMs} ms`);
    await vm.typeUntil(`echo root=$(awk '$2=="/"{print $3}' /proc/mounts)`, 'root=rootfs', SHELL_TIMEOUT_MS);
    vm.type('reboot');
    const shutdown = await vm.waitForEvent('SHUTDOWN', SHELL_TIMEOUT_MS);
    assert.deepEqual(shutdown.data, { guest: true, reason: 'guest-reset' });
  });

  it('i386 boots its initramfs under qemu-system-i386, runs a shell and powers off on the ACPI button', async () => {
    const vm = await boot('qemu-system-i386', ['-kernel', guests.i386.kernel, '-initrd', guests.i386.initrd, '-append', 'console=ttyS0 quiet']);
    const bannerMs = await vm.waitForSerial(guests.i386.banner, BOOT_TIMEOUT_MS);
    console.log(`# i386: cont → banner ${bannerMs} ms`);
    await vm.typeUntil('echo hi-$((1+1)) $(uname -m)', 'hi-2 i686', SHELL_TIMEOUT_MS);
    await vm.command('system_powerdown');
    const shutdown = await vm.waitForEvent('SHUTDOWN', SHELL_TIMEOUT_MS);
    assert.deepEqual(shutdown.data, { guest: true, reason: 'guest-shutdown' });
  });

  it('BIOS boot from an ISO given as cdrom reaches the banner, and `poweroff` at the shell ends QEMU', async () => {
    const vm = await boot('qemu-system-x86_64', ['-boot', 'd', '-cdrom', guests.biosIso]);
    const bannerMs = await vm.waitForSerial(guests.amd64.banner, BOOT_TIMEOUT_MS);
    console.log(`# bios.iso: cont → banner ${bannerMs} ms`);
    await vm.typeUntil('echo hi-$((1+1))', 'hi-2', SHELL_TIMEOUT_MS);
    vm.type('poweroff');
    const shutdown = await vm.waitForEvent('SHUTDOWN', SHELL_TIMEOUT_MS);
    assert.deepEqual(shutdown.data, { guest: true, reason: 'guest-shutdown' });
  });

  it('UEFI (OVMF, q35) boots the ESP image through startup.nsh to the banner', async () => {
    assert.ok(guests.uefiEsp, 'the test guests have no uefi-esp.img: rebuild them (node dist/scripts/guests/build.js)');
    const vars = join(dir, 'OVMF_VARS_4M.fd');
    copyFileSync('/usr/share/OVMF/OVMF_VARS_4M.fd', vars);
    const vm = await boot('qemu-system-x86_64', [
      '-M', 'q35',
      '-drive', 'if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd',
      '-drive', `if=pflash,format=raw,unit=1,file=${vars}`,
      '-drive', `if=virtio,format=raw,readonly=on,file=${guests.uefiEsp}`,
    ]);
    const bannerMs = await vm.waitForSerial(guests.amd64.banner, UEFI_BOOT_TIMEOUT_MS);
    console.log(`# uefi-esp.img: cont → banner ${bannerMs} ms`);
    await vm.typeUntil('echo hi-$((1+1))', 'hi-2', SHELL_TIMEOUT_MS);
  });
});
