// vm.conf files, loaded by `serve --config` as vmd reads /etc/vm.conf, boot every kind of guest:
// an amd64 direct kernel on a qcow2 disk, an i386 kernel under qemu-system-i386, and a BIOS boot
// from an ISO given as `cdrom`. `reload` re-reads the file.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { VmStatus } from '../../src/contract/vm.js';
import { qemuPidsUnder, TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

const g = guestArtifacts();
let daemon: TestDaemon;
let confPath: string;

function conf(extra = ''): string {
  return `# Ardesia test guests, in vm.conf(5) grammar
ramdisk = "${g.amd64.initrd}"

vm "deb64" {
  memory 192M
  boot "${g.amd64.kernel}"
  initrd $ramdisk
  cmdline "console=ttyS0 root=/dev/vda rw quiet"
  disk "deb64.qcow2" format qcow2
  enable
}

vm "deb32" {
  arch i386
  memory 128M
  boot "${g.i386.kernel}"
  initrd "${g.i386.initrd}"
  cmdline "console=ttyS0 quiet"
  disable
}

vm "isoboot" {
  memory 192M
  cdrom "${g.biosIso}"
  boot device cdrom
  disable
}
${extra}`;
}

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ard-'));
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', g.amd64.rootQcow2, join(dir, 'deb64.qcow2')]);
  confPath = join(dir, 'vm.conf');
  writeFileSync(confPath, conf());
  daemon = await TestDaemon.start({ dataDir: dir, extraArgs: ['--config', confPath] });
});
after(async () => {
  await daemon?.destroy();
});

async function banner(name: string, text: string): Promise<boolean> {
  return (await daemon.cli(['vm', 'log', name])).stdout.includes(text);
}

test('serve --config defines the file’s VMs and starts the enabled one', async () => {
  const list = JSON.parse((await daemon.cli(['--json', 'vm', 'status'])).stdout) as VmStatus[];
  assert.deepEqual(list.map((v) => v.name), ['deb32', 'deb64', 'isoboot']);
  const deb64 = list.find((v) => v.name === 'deb64')!;
  assert.equal(deb64.state, 'running', 'enabled → started with the daemon');
  assert.match(deb64.source ?? '', /vm\.conf:\d+/);
  assert.equal(list.find((v) => v.name === 'deb32')!.state, 'stopped');
  await until('the amd64 banner', () => banner('deb64', g.amd64.banner));
});

test('an i386 guest boots under qemu-system-i386', async () => {
  const r = await daemon.cli(['vm', 'start', 'deb32']);
  assert.equal(r.code, 0, r.stderr);
  const pid = (JSON.parse((await daemon.cli(['--json', 'vm', 'status', 'deb32'])).stdout) as VmStatus).pid!;
  assert.match(execFileSync('cat', [`/proc/${pid}/cmdline`]).toString(), /^(\S*\/)?qemu-system-i386\0/);
  await until('the i386 banner', () => banner('deb32', g.i386.banner));
  assert.equal((await daemon.cli(['vm', 'stop', '-f', '-w', 'deb32'])).code, 0);
});

test('a BIOS boot from an ISO given as cdrom reaches the banner through SeaBIOS and isolinux', async () => {
  const r = await daemon.cli(['vm', 'start', 'isoboot']);
  assert.equal(r.code, 0, r.stderr);
  await until('the ISO guest banner', () => banner('isoboot', g.amd64.banner), 120_000);
  const log = (await daemon.cli(['vm', 'log', 'isoboot'])).stdout;
  assert.match(log, /SeaBIOS/, 'firmware output reaches the serial console');
  assert.equal((await daemon.cli(['vm', 'stop', '-f', '-w', 'isoboot'])).code, 0);
});

test('reload re-reads the file: a removed stopped VM is forgotten, a new one defined', async () => {
  writeFileSync(confPath, conf('\nvm "extra" {\n  memory 64M\n  boot "' + g.amd64.kernel + '"\n  disable\n}\n').replace(/vm "deb32" \{[^}]*\}/, ''));
  const r = await daemon.cli(['vm', 'reload']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /added extra/);
  assert.match(r.stdout, /removed deb32/);
  const names = (JSON.parse((await daemon.cli(['--json', 'vm', 'status'])).stdout) as VmStatus[]).map((v) => v.name);
  assert.deepEqual(names, ['deb64', 'extra', 'isoboot']);
  assert.equal((await daemon.cli(['vm', 'stop', '-a', '-w', '-f'])).code, 0);
  assert.equal(qemuPidsUnder(join(daemon.dataDir, 'runtime')).length, 0);
});
