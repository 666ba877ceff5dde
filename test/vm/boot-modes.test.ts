// The remaining boot modes, defined in YAML (the same spec as vm.conf): UEFI (OVMF, a per-VM
// variable store) from an EFI system partition, and network boot: QEMU's iPXE ROM fetching an iPXE
// script, kernel and initrd over TFTP from QEMU's user-mode network (no traffic leaves QEMU).
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { VmStatus } from '../../src/contract/vm.js';
import { TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';

const g = guestArtifacts();
let daemon: TestDaemon;

before(async () => {
  daemon = await TestDaemon.start();
  const tftp = join(daemon.dataDir, 'tftp');
  mkdirSync(tftp);
  copyFileSync(g.amd64.kernel, join(tftp, 'vmlinuz'));
  copyFileSync(g.amd64.initrd, join(tftp, 'initrd.img'));
  writeFileSync(join(tftp, 'boot.ipxe'), '#!ipxe\nkernel vmlinuz console=ttyS0 quiet\ninitrd initrd.img\nboot\n');
  const esp = join(daemon.dataDir, 'esp.img');
  copyFileSync(g.uefiEsp!, esp);
  writeFileSync(
    join(daemon.dataDir, 'boot.yaml'),
    `vms:
  - name: uefi
    memoryMiB: 256
    boot: { firmware: uefi }
    disks: [{ path: ${esp}, format: raw }]
  - name: pxe
    memoryMiB: 192
    boot: { device: net }
    nics: [{ mode: user, tftpRoot: ${tftp}, bootFile: boot.ipxe }]
`,
  );
  const r = await daemon.cli(['vm', 'load', join(daemon.dataDir, 'boot.yaml')]);
  assert.equal(r.code, 0, r.stderr);
});
after(async () => {
  await daemon?.destroy();
});

const log = async (name: string) => (await daemon.cli(['vm', 'log', name])).stdout;

test('UEFI: OVMF boots the EFI system partition to the banner, with a per-VM variable store that persists', async () => {
  assert.ok(g.uefiEsp, 'the test guests have no uefi-esp.img: rebuild them (node dist/scripts/guests/build.js)');
  const r = await daemon.cli(['vm', 'start', 'uefi']);
  assert.equal(r.code, 0, r.stderr);
  await until('the UEFI guest banner', async () => (await log('uefi')).includes(g.amd64.banner), 180_000);
  const status = JSON.parse((await daemon.cli(['--json', 'vm', 'status', 'uefi'])).stdout) as VmStatus;
  assert.equal(status.spec.boot.firmware, 'uefi');
  assert.equal((await daemon.cli(['vm', 'stop', '-f', '-w', 'uefi'])).code, 0);
  assert.ok(existsSync(join(daemon.dataDir, 'runtime', 'uefi', 'efivars.fd')), 'the NVRAM survives a stop');
});

test('network boot: iPXE loads a script, kernel and initrd over TFTP and the guest boots', async () => {
  const r = await daemon.cli(['vm', 'start', 'pxe']);
  assert.equal(r.code, 0, r.stderr);
  await until('the netbooted banner', async () => (await log('pxe')).includes(g.amd64.banner), 180_000);
  assert.match(await log('pxe'), /iPXE/, 'the iPXE ROM ran');
  assert.equal((await daemon.cli(['vm', 'stop', '-f', '-w', 'pxe'])).code, 0);
});
