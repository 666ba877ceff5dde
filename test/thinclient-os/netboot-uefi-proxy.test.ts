// A UEFI thin client in proxyDHCP mode, end to end: a plain dnsmasq in the test's namespace gives addresses,
// `ardesia serve --netboot` (proxy mode) beside it gives only boot information. A diskless q35 PC (TCG, 1 GiB,
// OVMF_CODE_4M.fd + its own copy of OVMF_VARS_4M.fd, a ROM-less virtio-net NIC so OVMF's own VirtioNetDxe + PXE
// stack boots it, virtio-gpu) goes: OVMF PXE → Ardesia's proxy OFFER/ACK naming snponly.efi → TFTP of snponly.efi
// (Debian's ipxe) → iPXE's own DHCP, where the proxy hands it the per-MAC script URL → the script over HTTP →
// kernel + initrd → the ARDESIA-TC stages on serial → the portal's login page on screen (QMP screendump).
// Each stage is checked in the daemon's log and on the serial console. No login typed (netboot-login does that).
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { QmpClient } from '../../src/hypervisor/qmp/client.js';
import { killRuntimeQemus } from '../helpers/daemon.js';
import { NetLab, REPO } from '../netboot/lab.js';
import { kernelAndInitrdFetched, type LabDaemon, serialConsole, stageThinClientOs, startLabDaemon, waitForLoginPage } from './netboot-support.js';

const SERVER_IP = '10.250.20.1';
const DNSMASQ_IP = '10.250.20.2';
const MAC = '52:54:00:0b:00:01';
const OVMF_DIR = '/usr/share/OVMF';
const BOOT_TIMEOUT_MS = 300_000;
const VGA = process.env.ARDESIA_TC_VGA ?? 'virtio';

let dir: string;
let dataDir: string;
let lab: NetLab;
let daemon: LabDaemon;

before(async () => {
  dir = mkdtempSync('/tmp/tcu-');
  dataDir = join(dir, 'data');
  await stageThinClientOs(dir, dataDir, ['amd64', 'i386']);
  lab = await NetLab.create('u');
  const dns = await lab.addHost('dns', `${DNSMASQ_IP}/24`);
  const srv = await lab.addHost('srv', `${SERVER_IP}/24`);
  await lab.addTap('tap0');
  // Addresses only: no PXE options, as an office router's DHCP server would be.
  lab.spawn(dns, '/usr/sbin/dnsmasq', ['--keep-in-foreground', '--no-daemon', '--conf-file=/dev/null', '--port=0', '--interface=eth0', '--bind-interfaces', '--no-ping',
    '--dhcp-range=10.250.20.100,10.250.20.150,255.255.255.0,10m', `--dhcp-leasefile=${join(dir, 'leases')}`]);
  daemon = await startLabDaemon(lab, srv, dir, dataDir, SERVER_IP, ['interfaces:', `  - address: ${SERVER_IP}`, '    mode: proxy']);
});

after(async () => {
  daemon?.proc.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  if (dataDir) killRuntimeQemus(dataDir);
  await lab?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The daemon's JSON log lines with an `event` field. */
function events(): Array<Record<string, unknown>> {
  return daemon.log().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => typeof e.event === 'string');
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('a diskless UEFI PC (OVMF) netboots through Ardesia in proxy mode beside dnsmasq to the portal login page', async (t) => {
  const vars = join(dir, 'OVMF_VARS_4M.fd');
  copyFileSync(join(OVMF_DIR, 'OVMF_VARS_4M.fd'), vars);
  const qmpPath = join(dir, 'tc.qmp');
  const serialPath = join(dir, 'tc.serial');
  const qemu = lab.spawn(lab.hub, 'qemu-system-x86_64', [
    '-M', 'q35', '-accel', 'tcg,tb-size=128', '-m', '1024', '-smp', '1', '-nodefaults', '-vga', VGA, '-display', 'none', '-no-reboot', '-boot', 'n',
    '-drive', `if=pflash,format=raw,readonly=on,file=${join(OVMF_DIR, 'OVMF_CODE_4M.fd')}`, '-drive', `if=pflash,format=raw,file=${vars}`,
    // romfile= (none): OVMF's built-in virtio-net driver and PXE client, not QEMU's iPXE option ROM.
    '-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no', '-device', `virtio-net-pci,netdev=n0,mac=${MAC},romfile=,bootindex=1`,
    '-serial', `file:${serialPath}`, '-qmp', `unix:${qmpPath},server=on,wait=off`,
  ]);
  const started = Date.now();
  const serialLog = serialConsole(qemu, serialPath, BOOT_TIMEOUT_MS);
  // Seconds from QEMU's start to each stage, reported (not asserted) for docs/thinclient-os.md.
  const reached: string[] = [];
  const serial = { ...serialLog, stage: async (re: RegExp, what: string) => { await serialLog.stage(re, what); reached.push(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`); } };
  const mac = escapeRe(MAC);
  try {
    // OVMF's PXE client: address from dnsmasq, NBP from Ardesia's proxy, fetched over TFTP.
    await serial.stage(/Start PXE over IPv4/, 'OVMF starting PXE');
    await serial.stage(/NBP filename is snponly\.efi\n[^]*NBP file downloaded successfully/, 'OVMF downloading snponly.efi');
    // iPXE (snponly.efi) on OVMF's network driver, chained to the per-MAC script over HTTP.
    await serial.stage(/iPXE initialising devices\.\.\.ok/, 'snponly.efi running');
    // Address and gateway from dnsmasq (it names itself the router); the boot file from Ardesia's proxy.
    await serial.stage(/net0: 10\.250\.20\.1[0-5]\d\/255\.255\.255\.0 gw 10\.250\.20\.2\n/, 'iPXE configured by dnsmasq');
    await serial.stage(new RegExp(`Filename: http://10\\.250\\.20\\.1:8080/boot/ipxe\\?mac=${mac}\\n`), 'the proxy handing iPXE its script URL');
    // Both OSes are built: a UEFI PC gets amd64 (x86-64 firmware boots only a 64-bit kernel).
    await kernelAndInitrdFetched(serial, daemon.log, 'amd64', /ARDESIA-TC stage=init kernel=\S+ machine=x86_64/);
    await serial.stage(/ARDESIA-TC stage=dhcp ok ip=10\.250\.20\.1[0-5]\d/, 'the initramfs on the network (address from dnsmasq)');
    await serial.stage(/ARDESIA-TC stage=root fetched bytes=\d+ sha256=ok/, 'the root image in RAM, checked');
    await serial.stage(new RegExp(`ARDESIA-TC stage=kiosk .*url=https://10\\.250\\.20\\.1:8080/\\?thinclient=${mac}`), 'the kiosk on the HTTPS portal');

    // The daemon's view: proxy replies only (never an address), snponly.efi to the firmware, the script URL to iPXE.
    const replies = events().filter((e) => e.event === 'dhcp-reply').map((e) => String(e.reason));
    assert.ok(replies.some((r) => new RegExp(`^proxy: (OFFER|ACK) snponly\\.efi to ${mac} \\(uefi`).test(r)), `no proxy reply with snponly.efi: ${JSON.stringify(replies)}`);
    assert.ok(replies.some((r) => new RegExp(`^proxy: (OFFER|ACK) http://10\\.250\\.20\\.1:8080/boot/ipxe\\?mac=.* to ${mac} .*iPXE`).test(r)), `no proxy reply with the script URL: ${JSON.stringify(replies)}`);
    assert.ok(replies.every((r) => r.startsWith('proxy: ')), `a reply that is not proxy DHCP: ${JSON.stringify(replies)}`);
    const tftp = events().filter((e) => e.event === 'tftp-done' || e.event === 'tftp-failed');
    assert.ok(tftp.some((e) => e.event === 'tftp-done' && e.file === 'snponly.efi' && e.ok === true), `no complete TFTP of snponly.efi: ${JSON.stringify(tftp)}`);
    assert.ok(events().some((e) => e.event === 'boot-script' && e.mac === MAC && /^10\.250\.20\.1[0-5]\d$/.test(String(e.ip).replace(/^::ffff:/, ''))), 'no boot-script fetch for the MAC from a dnsmasq address');
    assert.ok(events().some((e) => e.event === 'boot-file' && e.arch === 'amd64' && e.file === 'root.squashfs'), 'no amd64 root.squashfs fetch');

    const qmp = await QmpClient.connect(qmpPath);
    try {
      await waitForLoginPage(qmp, join(dir, 'tc.png'), serial, BOOT_TIMEOUT_MS).catch((err: Error) => {
        // Keep what the screen showed and what the daemon served: dir is removed after the test.
        const kept = mkdtempSync('/tmp/tcu-fail-');
        cpSync(join(dir, 'tc.png'), join(kept, 'screen.png'));
        writeFileSync(join(kept, 'daemon.log'), daemon.log());
        writeFileSync(join(kept, 'serial.txt'), serial.text());
        throw new Error(`${err.message}\n(screen, daemon log and serial kept in ${kept})`);
      });
    } finally {
      await qmp.close();
    }
    reached.push(`login page on screen: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    t.diagnostic(reached.join('; '));
    cpSync(join(dir, 'tc.png'), join(REPO, 'docs', 'screenshots', 'thinclient-uefi-login.png'));
  } finally {
    qemu.kill('SIGKILL');
  }
});
