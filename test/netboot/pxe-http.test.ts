// The whole boot chain through the daemon: `ardesia serve --netboot FILE` in a network namespace;
// a diskless QEMU (TCG, iPXE ROM) gets DHCP (full mode, lease in the store) → the per-MAC iPXE
// script over HTTP → kernel + initrd from /boot/files (the test guest's, standing in for the
// thin-client OS) → the guest's banner on serial. Then the inventory shows the client.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLI, runCli, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { NetLab } from './lab.js';

const BOOT_TIMEOUT_MS = 150_000;
const MAC = '52:54:00:05:00:01';
let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'nbh-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** The stand-in thin-client OS: the test guest's kernel and initrd with a manifest. */
function installStandInOs(dataDir: string): void {
  const g = guestArtifacts();
  const os = join(dataDir, 'thinclient', 'current-amd64');
  mkdirSync(os, { recursive: true });
  const files: Record<string, { size: number; sha256: string }> = {};
  for (const [name, from] of [['vmlinuz', g.amd64.kernel], ['initrd.img', g.amd64.initrd]] as const) {
    copyFileSync(from, join(os, name));
    files[name] = { size: statSync(from).size, sha256: createHash('sha256').update(readFileSync(from)).digest('hex') };
  }
  writeFileSync(join(os, 'manifest.json'), JSON.stringify({ files, kernelCmdline: 'console=ttyS0' }));
}

test('PXE → DHCP → iPXE script over HTTP (a 64-bit CPU: amd64) → kernel and initrd from /boot/files/amd64; the client is in the inventory', async () => {
  const g = guestArtifacts();
  const lab = await NetLab.create('h');
  const dataDir = join(dir, 'data');
  try {
    const srv = await lab.addHost('srv', '10.250.5.1/24');
    installStandInOs(dataDir);
    const netboot = join(dir, 'netboot.yaml');
    writeFileSync(netboot, [
      'interfaces:',
      '  - address: 10.250.5.1',
      '    mode: full',
      '    subnetMask: 255.255.255.0',
      '    ranges: [{ start: 10.250.5.100, end: 10.250.5.120 }]',
      '',
    ].join('\n'));
    const daemon = lab.spawn(srv, process.execPath, [CLI, '--data-dir', dataDir, 'serve', '--listen', '10.250.5.1:8080', '--netboot', netboot, '--log-level', 'debug']);
    let log = '';
    daemon.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    daemon.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await until('the daemon to listen', () => log.includes('ardesia daemon listening') || (daemon.exitCode !== null && Promise.reject(new Error(log))), 60_000);
    assert.match(log, /"event":"dhcp-probe".*"found":false/);

    await lab.addTap('tap0');
    writeFileSync(join(dir, 'sercon'), Buffer.from([0xf8, 0x03]));
    const serial = join(dir, 'serial.txt');
    const qemu = spawn('ip', ['netns', 'exec', lab.hub, 'qemu-system-x86_64', '-accel', 'tcg', '-m', '256', '-nodefaults', '-display', 'none', '-no-reboot',
      '-boot', 'n', '-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no', '-device', `virtio-net-pci,netdev=n0,mac=${MAC}`,
      '-fw_cfg', `name=etc/sercon-port,file=${join(dir, 'sercon')}`, '-serial', `file:${serial}`], { stdio: 'ignore' });
    let text = '';
    try {
      await until(`the guest banner on serial`, () => {
        try { text = readFileSync(serial, 'latin1'); } catch { /* not yet */ }
        if (qemu.exitCode !== null) throw new Error(`QEMU exited ${qemu.exitCode}: ${text}`);
        return text.includes(g.amd64.banner);
      }, BOOT_TIMEOUT_MS, 500);
    } finally {
      qemu.kill('SIGKILL');
    }
    text = text.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '');
    // iPXE fetched the per-MAC script and the files over HTTP; the kernel got our command line.
    assert.match(text, /Filename: http:\/\/10\.250\.5\.1:8080\/boot\/ipxe\?mac=52:54:00:05:00:01\n/);
    assert.match(text, /http:\/\/10\.250\.5\.1:8080\/boot\/ipxe\.\.\. ok\n/);
    assert.match(text, /Ardesia: booting thin client 52:54:00:05:00:01/);
    assert.match(text, /http:\/\/10\.250\.5\.1:8080\/boot\/files\/amd64\/vmlinuz\.\.\.[^\n]* ok\n/);
    assert.match(text, /http:\/\/10\.250\.5\.1:8080\/boot\/files\/amd64\/initrd\.img\.\.\.[^\n]* ok\n/);
    assert.match(text, /Command line: .*console=ttyS0 ardesia\.server=http:\/\/10\.250\.5\.1:8080 ardesia\.mac=52:54:00:05:00:01/);
    // The stages in the daemon's log: DHCP ACK, boot script, kernel and initrd.
    assert.match(log, /"event":"dhcp-reply","reason":"ACK 10\.250\.5\.1\d\d to 52:54:00:05:00:01/);
    assert.match(log, /"event":"boot-script","mac":"52:54:00:05:00:01","ip":"10\.250\.5\.1\d\d","decision":"boot","registered":true/);
    assert.match(log, /"event":"boot-file","arch":"amd64","file":"vmlinuz"/);
    assert.match(log, /"event":"boot-file","arch":"amd64","file":"initrd\.img"/);
    // The daemon's full-mode interface answered the ROM's router solicitation (its EUI-64 link-local address).
    assert.match(log, /"event":"ra-answered","interface":"10\.250\.5\.1","link":"eth0","solicitor":"fe80::5054:ff:fe05:1","delivery":"unicast"/);

    const shown = await runCli(dataDir, ['--json', 'thinclient', 'show', MAC]);
    assert.equal(shown.code, 0, shown.stderr);
    const client = JSON.parse(shown.stdout) as { state: string; bootCount: number; lastIp: string; lastSeenAt: string };
    assert.equal(client.state, 'new');
    assert.equal(client.bootCount, 1);
    assert.match(client.lastIp, /^10\.250\.5\.1\d\d$/);
    assert.ok(client.lastSeenAt);
    // The lease is in the store too.
    const lease = /"reason":"ACK (10\.250\.5\.\d+)/.exec(log)![1];
    assert.equal(lease, client.lastIp);
  } finally {
    await lab.destroy();
  }
});
