// A thin client end to end, all of it Ardesia's: `ardesia serve --netboot` in a network namespace with both
// thin-client OSes built (amd64 and i386); an old diskless 32-bit PC (qemu-system-i386, a Pentium III: i686,
// no SSE2, no 64-bit mode; TCG, 1 GiB, BIOS, a Realtek 8139 NIC with its iPXE ROM, PS/2 keyboard, virtio-gpu)
// gets DHCP (full mode) → the per-MAC iPXE script over HTTP, which picks the i386 OS for a CPU without long
// mode → the thin-client OS (kernel, initrd, root.squashfs into RAM) → the kiosk (cage + cog) with the
// keyboard layout and screen resolution the administrator set in the inventory, showing the Ardesia login page. The test checks each stage on the thin client's serial console (including
// the keyboard the compositor holds) and in the daemon's log, sees the login page on the screen (QMP
// screendump: the portal's background, login card and button, as the browser tests' screenshot has them),
// then types user, Tab, password, Enter with QMP send-key. The kiosk portal logs in and opens the user's only
// pool (a busybox guest serving a VNC screen); the API shows the session in use from the thin client's address,
// the broker's audit names the thin client's MAC, and the inventory's current user of that MAC is the user.
// Then the desktop is on the thin client's screen: the kiosk page reports its view connected to that desktop
// (a console line), and the screen shows what only that desktop draws — the gold image paints the user's
// session magenta above cyan (desktop-pattern.ts) — in the proportion the desktop VM's own screendump has it.
// (The first keys after boot used to be lost in cage's seat: docs/thinclient-os.md, "Keyboard input".)
// Then the administrator names a kiosk account on this thin client: once the user is logged off, the kiosk
// page opens the kiosk account's desktop by itself, with no login page (its session from this MAC, its picture on screen);
// and after the PC is reset it netboots straight into that desktop again (boot count 2, no keys typed).
import assert from 'node:assert/strict';
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ApiClient } from '../../src/cli/client.js';
import type { SessionInfo } from '../../src/contract/pools.js';
import { QmpClient } from '../../src/hypervisor/qmp/client.js';
import { qkeyChordsOf, sendKeyArgs } from '../../src/thinclients/qkeys.js';
import { killRuntimeQemus, runCli, until } from '../helpers/daemon.js';
import { buildHelperGuest, KERNEL_APPEND } from '../image-build/helper-guest.js';
import { NetLab, REPO } from '../netboot/lab.js';
import { kernelAndInitrdFetched, type LabDaemon, serconFile, serialConsole, shareOf, stageThinClientOs, startLabDaemon, waitForLoginPage } from './netboot-support.js';
import { addPatternToImage, patternOn, type PatternSeen, showsDesktopPattern } from './desktop-pattern.js';
import { decodePng } from './png.js';

const SERVER_IP = '10.250.10.1';
const MAC = '52:54:00:0a:00:01';
const USER = 'dora';
/** The kiosk account the inventory names for this thin client at the end of the test. */
const KIOSK_USER = 'library';
/** No y, z or punctuation: the same keys on the German layout the test gives this thin client. */
const PASSWORD = 'Thinclient42';
/** Between two keys: the emulated PC renders each character in cog before the next arrives (no timing is asserted). */
const KEY_GAP_MS = 250;
const BOOT_TIMEOUT_MS = 600_000;
/** The thin client's graphics: virtio-gpu (cage needs a GPU that imports PRIME buffers; QEMU's std VGA does not). */
const VGA = process.env.ARDESIA_TC_VGA ?? 'virtio';

let dir: string;
let dataDir: string;
let lab: NetLab;
let daemon: LabDaemon;
let api: ApiClient;
/** The data folder's CA, baked into the thin-client OS. */
let caSha256: string;
const log = () => daemon.log();

before(async () => {
  dir = mkdtempSync('/tmp/tcl-');
  // The pool's QEMU runs as the unprivileged account: it must be able to pass through to DATA_DIR (mkdtemp makes 0700).
  chmodSync(dir, 0o711);
  dataDir = join(dir, 'data');
  caSha256 = await stageThinClientOs(dir, dataDir, ['amd64', 'i386']);
  lab = await NetLab.create('l');
  const srv = await lab.addHost('srv', `${SERVER_IP}/24`);
  await lab.addTap('tap0');
  daemon = await startLabDaemon(lab, srv, dir, dataDir, SERVER_IP,
    ['interfaces:', `  - address: ${SERVER_IP}`, '    mode: full', '    subnetMask: 255.255.255.0', '    ranges: [{ start: 10.250.10.100, end: 10.250.10.120 }]']);
  api = daemon.api;
});

after(async () => {
  daemon?.proc.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  if (dataDir) killRuntimeQemus(dataDir);
  await lab?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The open desktop's toolbar (web/src/style.css `.toolbar`); the portal's own top bar in kiosk mode is #2a3140. */
const DESKTOP_TOOLBAR = [0x1d, 0x23, 0x30];

/** The desktop VM's own screen now (GET /v1/vms/NAME/screendump over the daemon's socket), as the pattern seen on it. */
function desktopOwnScreen(desktop: string): Promise<PatternSeen> {
  const token = readFileSync(join(dataDir, 'root.token'), 'utf8').trim();
  return new Promise((resolve, reject) => {
    request({ socketPath: join(dataDir, 'ardesia.sock'), path: `/v1/vms/${encodeURIComponent(desktop)}/screendump`, headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`screendump of ${desktop}: HTTP ${res.statusCode} ${Buffer.concat(chunks).toString()}`));
        try {
          resolve(patternOn(decodePng(Buffer.concat(chunks))));
        } catch (err) {
          reject(err as Error);
        }
      });
    }).on('error', reject).end();
  });
}

/** The spare boots beside the thin client's own TCG boot and two other test files' QEMUs: generous, never the limit. */
const SPARE_TIMEOUT_MS = 600_000;

/** A gold image of the busybox guest (its screen served over VNC) that paints a session's pattern, a user, and one pool entitled to them with a warm spare. */
async function poolForDora(): Promise<void> {
  const imgDir = mkdtempSync(join(dir, 'img-'));
  const guest = buildHelperGuest(imgDir);
  addPatternToImage(guest.root, imgDir);
  const made = await runCli(dataDir, ['image', 'create', 'bb', '--from', guest.root, '--format', 'raw', '--kernel', guest.kernel, '--initrd', guest.initrd, '--cmdline', KERNEL_APPEND, '--memory', '192M']);
  assert.equal(made.code, 0, made.stderr);
  await api.request('POST', '/v1/users', { name: USER, password: PASSWORD });
  await api.request('POST', '/v1/pools', { name: 'tc', image: 'bb', warmSpares: 1, maxDesktops: 2, memoryMiB: 192, entitled: { users: [USER] } });
  await until('the warm spare', async () => (await api.request<Array<{ state: string }>>('GET', '/v1/pools/tc/desktops')).some((d) => d.state === 'ready'), SPARE_TIMEOUT_MS, 1000)
    .catch(async (err: Error) => {
      const spare = log().split('\n').filter((line) => /tc-1|pool tc\b/.test(line)).slice(-20).join('\n');
      throw new Error(`${err.message}; desktops: ${JSON.stringify(await api.request('GET', '/v1/pools/tc/desktops').catch(() => 'unavailable'))}; the daemon on the spare:\n${spare}`);
    });
}

/** Types `text` on the thin client's keyboard, one key (chord) at a time, as a person would. */
async function typeOn(qmp: QmpClient, text: string): Promise<void> {
  for (const chord of qkeyChordsOf(text)) {
    await qmp.execute('send-key', sendKeyArgs(chord));
    await new Promise((r) => setTimeout(r, KEY_GAP_MS));
  }
}

/** The thin client's screen (tc.png) shows what only `desktop` draws, as the desktop VM's own screen has it, under the portal's toolbar. */
async function desktopOnThinClientScreen(qmp: QmpClient, desktop: string, what: string, consoleTail: () => string): Promise<void> {
  let seen: { thinClient: PatternSeen; desktop: PatternSeen } | undefined;
  await until(what, async () => {
    const own = await desktopOwnScreen(desktop);
    await qmp.screendump(join(dir, 'tc.png'), 'png');
    const png = decodePng(readFileSync(join(dir, 'tc.png')));
    seen = { thinClient: patternOn(png), desktop: own };
    return showsDesktopPattern(seen.thinClient, own) && shareOf(png, DESKTOP_TOOLBAR) > 0.02;
  }, 180_000, 2000).catch((err: Error) => {
    throw new Error(`${err.message}; last seen ${JSON.stringify(seen)}; screen in ${join(dir, 'tc.png')}\n${consoleTail().slice(-2000)}`);
  });
}

/** The broker's view of the session: from the thin client's address, its MAC in the audit, its user in the inventory. */
async function assertSessionFromThinClient(session: SessionInfo, thinClientIp: string): Promise<void> {
  assert.equal(session.pool, 'tc');
  // The display connection came from the thin client's own address (cog → the gateway).
  assert.ok(session.lastClient?.address.endsWith(thinClientIp), `last client ${JSON.stringify(session.lastClient)} is not ${thinClientIp}`);
  // ... and says which thin client it is: the session's last client is that MAC.
  assert.equal(session.lastClient?.thinClient, MAC, `last client ${JSON.stringify(session.lastClient)}`);
  // The broker's record of the connect names the thin client's MAC.
  const audit = await api.request<Array<{ action: string; target: string; detail: Record<string, unknown> | null }>>('GET', '/v1/audit?action=session.connect');
  const connect = audit.find((e) => e.action === 'session.connect' && e.target === session.desktop);
  assert.equal(connect?.detail?.thinClient, MAC, `audit: ${JSON.stringify(connect)}`);
  const inventory = await until('the inventory to show the user', async () => {
    const c = await api.request<{ currentUser: string | null; bootCount: number }>('GET', `/v1/thinclients/${MAC}`);
    return c.currentUser === USER ? c : undefined;
  }, 30_000, 500);
  assert.equal(inventory.bootCount, 1);
}

/** Seconds since the PC was switched on, printed at each stage: where this long test's time goes. */
function stageClock(): (label: string) => void {
  const t0 = Date.now();
  return (label) => console.log(`netboot-login: ${label} at ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

test('a diskless 32-bit PC netboots (BIOS, full mode) the i386 OS through Ardesia to the login page, a user logs in on its keyboard, and the broker records the session from that thin client', async () => {
  // The administrator added this PC ahead of its first boot, with its place, keyboard and screen mode.
  await api.request('POST', '/v1/thinclients', { mac: MAC, place: 'Library, desk 3', keyboardLayout: 'de', resolution: '1024x768' });
  const serialPath = join(dir, 'tc.serial');
  const qmpPath = join(dir, 'tc.qmp');
  // The PC's own PS/2 keyboard (QEMU's default, like an old PC's): no virtio input devices.
  const qemu = lab.spawn(lab.hub, 'qemu-system-i386', [
    '-cpu', 'pentium3', '-accel', 'tcg,tb-size=128', '-m', '1024', '-smp', '1', '-nodefaults', '-vga', VGA, '-display', 'none', '-no-reboot', '-boot', 'n',
    '-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no', '-device', `rtl8139,netdev=n0,mac=${MAC}`,
    '-fw_cfg', `name=etc/sercon-port,file=${serconFile(dir)}`, '-serial', `file:${serialPath}`, '-qmp', `unix:${qmpPath},server=on,wait=off`,
  ]);
  const serial = serialConsole(qemu, serialPath, BOOT_TIMEOUT_MS);
  const mark = stageClock();
  const { text, stage } = serial;
  // The desktop pool comes up while the thin client boots.
  const pool = poolForDora();
  pool.catch(() => undefined); // awaited below; a failure meanwhile must not be an unhandled rejection
  try {
    // Each stage of the chain, on the thin client's serial console.
    await stage(/Filename: http:\/\/10\.250\.10\.1:8080\/boot\/ipxe\?mac=52:54:00:0a:00:01/, 'DHCP handing iPXE its script URL');
    // The i386 files (no long mode), and the 686 kernel running.
    await kernelAndInitrdFetched(serial, log, 'i386', /ARDESIA-TC stage=init kernel=\S+-686 machine=i686/);
    await stage(/ARDESIA-TC stage=dhcp ok ip=10\.250\.10\.1\d\d/, 'the initramfs on the network');
    await stage(/ARDESIA-TC stage=root fetched bytes=\d+ sha256=ok/, 'the root image in RAM, checked');
    // virtio-gpu takes its modes from QEMU, not from an EDID: the screen mode itself is checked in thinclient-boot (bochs).
    // The settings over HTTPS, verified with the CA the OS carries (the daemon serves no plain-HTTP API here).
    await stage(new RegExp(`ARDESIA-TC stage=tls portal-ca=${caSha256} config=ok server=https://10\\.250\\.10\\.1:8080`), 'the kiosk settings fetched over verified HTTPS');
    await stage(/ARDESIA-TC stage=config source=server keyboard=de resolution=1024x768 screen=edid/, 'the inventory\'s keyboard and resolution');
    await stage(/ARDESIA-TC stage=kiosk .*url=https:\/\/10\.250\.10\.1:8080\/\?thinclient=52:54:00:0a:00:01/, 'the kiosk on the HTTPS portal');
    assert.match(log(), /"event":"thinclient-os-trust","arch":"i386","ok":true/, 'the daemon found the OS trusts its CA');
    // The compositor holds the PC's keyboard (udev tagged it, libinput opened it through seatd).
    await stage(/ARDESIA-TC stage=input run=\d+ compositor=cage devices=[^\n]*:kbd:AT_Translated_Set_2_keyboard/, 'the PS/2 keyboard in the kiosk');
    // …and in the daemon's log.
    assert.match(log(), /"event":"dhcp-reply","reason":"ACK 10\.250\.10\.1\d\d to 52:54:00:0a:00:01/);
    assert.match(log(), /"event":"boot-script","mac":"52:54:00:0a:00:01"/);
    assert.match(log(), /"event":"boot-file","arch":"i386","file":"root\.squashfs"/);
    assert.doesNotMatch(log(), /"event":"boot-file","arch":"amd64"/);

    mark('kiosk started');
    const qmp = await QmpClient.connect(qmpPath);
    await waitForLoginPage(qmp, join(dir, 'tc.png'), serial, BOOT_TIMEOUT_MS);
    // Memory in use with the login page up (printed 45 s after the kiosk starts): it must fit the PC's 1 GiB.
    await stage(/ARDESIA-TC stage=mem used_mib=\d+/, 'the kiosk\'s memory report');
    const used = Number(/ARDESIA-TC stage=mem used_mib=(\d+)/.exec(text())![1]);
    assert.ok(used < 1024, `${used} MiB used of 1 GiB`);
    cpSync(join(dir, 'tc.png'), join(REPO, 'docs', 'screenshots', 'thinclient-login.png'));
    mark('login page up');

    const client = await api.request<{ state: string; bootCount: number; lastIp: string }>('GET', `/v1/thinclients/${MAC}`);
    assert.equal(client.state, 'enabled');
    assert.equal(client.bootCount, 1);
    assert.match(client.lastIp, /^10\.250\.10\.1\d\d$/);

    // Log in on the thin client's keyboard; the kiosk portal opens the only pool.
    await pool;
    await typeOn(qmp, `${USER}\t${PASSWORD}\n`);
    const session = await until('the session in use from the thin client', async () =>
      (await api.request<SessionInfo[]>('GET', '/v1/sessions')).find((s) => s.user === USER && s.state === 'in-use' && s.clients > 0), 300_000, 1000,
    ).catch(async (err: Error) => {
      await qmp.screendump(join(dir, 'after-login.png'), 'png').catch(() => undefined);
      throw new Error(`${err.message}; screen in ${join(dir, 'after-login.png')}\n${text().slice(-2000)}`);
    });
    await assertSessionFromThinClient(session, client.lastIp);
    mark('session in use');

    // The kiosk page says its view is connected to this session's desktop (its console line on the serial console).
    await stage(new RegExp(`ARDESIA-TC stage=display desktop=${session.desktop} status=connected`), 'the kiosk\'s view connected to the desktop');
    // The thin client's screen shows what only that desktop draws, as the desktop VM's own screen has it, under the portal's toolbar.
    const onScreen = (desktop: string, what: string, consoleTail: () => string) => desktopOnThinClientScreen(qmp, desktop, what, consoleTail);
    await onScreen(session.desktop, 'the desktop\'s own picture on the thin client', text);
    cpSync(join(dir, 'tc.png'), join(REPO, 'docs', 'screenshots', 'thinclient-desktop.png'));
    mark('desktop on screen');

    // A kiosk account named on this PC: after dora's logoff the kiosk opens it, no login page, no keys typed.
    await api.request('POST', '/v1/users', { name: KIOSK_USER, kiosk: true });
    await api.request('PATCH', '/v1/pools/tc', { entitled: { users: [USER, KIOSK_USER] } });
    await api.request('PATCH', `/v1/thinclients/${MAC}`, { kioskUser: KIOSK_USER, pool: 'tc' });
    const consoleBefore = text().length;
    await api.request('POST', `/v1/sessions/${encodeURIComponent(session.desktop)}/logoff`);
    const kiosk = await until('the kiosk account\'s session in use from the thin client', async () =>
      (await api.request<SessionInfo[]>('GET', '/v1/sessions')).find((s) => s.user === KIOSK_USER && s.state === 'in-use' && s.clients > 0), 300_000, 1000,
    ).catch(async (err: Error) => {
      await qmp.screendump(join(dir, 'kiosk.png'), 'png').catch(() => undefined);
      throw new Error(`${err.message}; screen in ${join(dir, 'kiosk.png')}\n${text().slice(-2000)}`);
    });
    assert.equal(kiosk.lastClient?.thinClient, MAC);
    assert.ok(kiosk.lastClient?.address.endsWith(client.lastIp), `last client ${JSON.stringify(kiosk.lastClient)}`);
    const kioskAudit = await api.request<Array<{ target: string; detail: { thinClient?: string } | null }>>('GET', '/v1/audit?action=auth.kiosk-login');
    assert.ok(kioskAudit.some((e) => e.target === KIOSK_USER && e.detail?.thinClient === MAC), `audit: ${JSON.stringify(kioskAudit)}`);
    const passwordLogins = await api.request<Array<{ target: string }>>('GET', '/v1/audit?action=auth.login');
    assert.ok(!passwordLogins.some((e) => e.target === KIOSK_USER), 'no password login of the kiosk account');
    await until('the kiosk\'s view connected to the kiosk desktop', () => new RegExp(`ARDESIA-TC stage=display desktop=${kiosk.desktop} status=connected`).test(text().slice(consoleBefore)), 180_000, 1000);
    await onScreen(kiosk.desktop, 'the kiosk desktop\'s own picture on the thin client', text);
    cpSync(join(dir, 'tc.png'), join(REPO, 'docs', 'screenshots', 'thinclient-kiosk-desktop.png'));
    mark('kiosk desktop on screen');

    // The PC is switched off and on: from a fresh boot it goes straight into the kiosk account's desktop, no login page, no keys.
    const bootConsole = text().length;
    await qmp.execute('set-action', { reboot: 'reset' }); // -no-reboot would end QEMU: this reset restarts the PC instead
    await qmp.systemReset();
    const afterBoot = () => text().slice(bootConsole);
    await until('the PC netbooted again', async () => {
      if (qemu.exitCode !== null) throw new Error(`the thin client's QEMU exited ${qemu.exitCode}:\n${afterBoot().slice(-3000)}`);
      return /ARDESIA-TC stage=kiosk .*url=https:\/\/10\.250\.10\.1:8080\/\?thinclient=52:54:00:0a:00:01/.test(afterBoot());
    }, BOOT_TIMEOUT_MS, 1000).catch((err: Error) => {
      throw new Error(`${err.message}\n--- serial since the reset ---\n${afterBoot().slice(-3000)}`);
    });
    assert.equal((await api.request<{ bootCount: number }>('GET', `/v1/thinclients/${MAC}`)).bootCount, 2, 'the inventory counts the second boot');
    mark('kiosk started again after the reset');
    const rebooted = await until('the kiosk\'s view connected to the kiosk account\'s desktop after the boot', async () => {
      const m = /ARDESIA-TC stage=display desktop=(\S+) status=connected/.exec(afterBoot());
      return m?.[1];
    }, 300_000, 1000);
    const kioskAfterBoot = (await api.request<SessionInfo[]>('GET', '/v1/sessions')).find((s) => s.desktop === rebooted);
    assert.equal(kioskAfterBoot?.user, KIOSK_USER, `the desktop on screen after the boot is ${JSON.stringify(kioskAfterBoot)}`);
    await onScreen(rebooted, 'the kiosk desktop\'s own picture on the thin client after the boot', afterBoot);
    mark('kiosk desktop on screen after the reset');
    const passwordLoginsAfter = await api.request<Array<{ target: string }>>('GET', '/v1/audit?action=auth.login');
    assert.ok(!passwordLoginsAfter.some((e) => e.target === KIOSK_USER), 'no password login of the kiosk account after the boot either');
    await qmp.close();
  } finally {
    qemu.kill('SIGKILL');
  }
});
