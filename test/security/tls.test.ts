// Attacker: a PC on the network between users and the daemon (listening, or posing as the server).
// Defence: off loopback the daemon speaks only TLS — HTTPS with a certificate it made (fingerprint printed),
// Secure cookies and HSTS; the CLI refuses a server whose certificate is not the pinned one; SPICE only on
// QEMU's tls-port with Ardesia's CA in the .vv; the browser's display socket is wss://.
// The daemon, QEMU, the CLI, the probes and Chromium all run in a network namespace made here (10.250.9.0/24).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import type { VmStatus } from '../../src/contract/vm.js';
import { CLI, REPO_ROOT, TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { NetLab } from '../netboot/lab.js';
import { CHROMIUM } from '../web/browser.js';

const SERVER = '10.250.9.1';
const PORT = 8443;
const URL_HTTPS = `https://${SERVER}:${PORT}`;
const PROBE = join(REPO_ROOT, 'dist', 'test', 'security', 'tls-probe.js');
const PASSWORD = 'correct horse battery';
const g = guestArtifacts();

let lab: NetLab;
let ns: string;
let daemon: TestDaemon;
let fingerprint: string;
let work: string;
const caPath = () => join(daemon.dataDir, 'tls', 'ca.crt');

interface Probe {
  status?: number;
  headers?: Record<string, string | string[] | undefined>;
  body?: string;
  fingerprint?: string;
  result?: number;
  error?: string;
}

async function probe(args: string[]): Promise<Probe> {
  const { stdout } = await lab.exec(ns, process.execPath, [PROBE, ...args], 60_000);
  return JSON.parse(stdout) as Probe;
}

/** The CLI on a client in the namespace: its own config folder, no token of the server's data folder. */
function cliRemote(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, CLI, '--data-dir', join(work, 'nodata'), ...args], {
      env: { ...process.env, XDG_CONFIG_HOME: join(work, 'config'), ARDESIA_TOKEN: '', ARDESIA_URL: '', ARDESIA_FINGERPRINT: '', ARDESIA_CA: '' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'ard-tls-'));
  lab = await NetLab.create('tls');
  ns = await lab.addHost('srv', `${SERVER}/24`);
  daemon = await TestDaemon.start({ extraArgs: ['--listen', `${SERVER}:${PORT}`], netns: ns });
  fingerprint = /"tlsFingerprint":"([0-9A-F:]+)"/.exec(daemon.output)?.[1] ?? '';
  assert.match(fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/, `no fingerprint printed at start:\n${daemon.output}`);
  const api = daemon.api();
  await api.request('POST', '/v1/users', { name: 'ada', password: PASSWORD, roles: ['admin'] });
});

after(async () => {
  await daemon?.destroy();
  await lab?.destroy();
  rmSync(work, { recursive: true, force: true });
});

describe('HTTPS off loopback', () => {
  test('the printed fingerprint is the certificate the daemon made; its keys are 0600; `ardesia tls show` agrees', async () => {
    const cert = new X509Certificate(readFileSync(join(daemon.dataDir, 'tls', 'server.crt')));
    assert.equal(cert.fingerprint256, fingerprint);
    assert.ok(cert.checkIP(SERVER), 'the certificate names the listen address');
    assert.ok(cert.verify(new X509Certificate(readFileSync(caPath())).publicKey), "Ardesia's CA signed it");
    for (const key of ['ca.key', 'server.key']) assert.equal(statSync(join(daemon.dataDir, 'tls', key)).mode & 0o777, 0o600, key);
    const shown = await daemon.cli(['tls', 'show']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.ok(shown.stdout.includes(fingerprint), shown.stdout);
    const served = await probe(['http', `${URL_HTTPS}/healthz`, '--ca', caPath()]);
    assert.equal(served.status, 200, JSON.stringify(served));
    assert.equal(served.fingerprint, fingerprint, 'the certificate served is the one printed');
  });

  test('a password sent over plain HTTP is refused: no session, no cookie', async () => {
    const r = await probe(['http', `http://${SERVER}:${PORT}/v1/auth/login`, '--method', 'POST', '--body', JSON.stringify({ user: 'ada', password: PASSWORD })]);
    assert.equal(r.status, 400, JSON.stringify(r));
    assert.equal((JSON.parse(r.body!) as { error: { code: string } }).error.code, 'TLS_REQUIRED');
    assert.equal(r.headers?.['set-cookie'], undefined);
    const token = readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim();
    const api = await probe(['http', `http://${SERVER}:${PORT}/v1/vms`, '--token', token]);
    assert.equal(api.status, 400, 'a token sent in clear is not served either');
  });

  test('on the HTTPS port iPXE still gets /boot/* over plain HTTP, and the kiosk is sent to the https:// portal', async () => {
    await daemon.api().request('POST', '/v1/thinclients', { mac: '52:54:00:09:00:01' });
    const r = await probe(['http', `http://${SERVER}:${PORT}/boot/thinclient/config?mac=52:54:00:09:00:01`]);
    assert.equal(r.status, 200, JSON.stringify(r));
    assert.equal((JSON.parse(r.body!) as { portalUrl: string }).portalUrl, `${URL_HTTPS}/?thinclient=52:54:00:09:00:01`);
    const page = await probe(['http', `http://${SERVER}:${PORT}/`]);
    assert.equal(page.status, 308, 'a browser typing http:// is sent to https://');
    assert.equal(page.headers?.location, `${URL_HTTPS}/`);
  });

  test('connections reset before their first byte do not bring the daemon down', async () => {
    for (let i = 0; i < 5; i++) assert.deepEqual(await probe(['reset', SERVER, String(PORT)]), { result: 0 });
    const r = await probe(['http', `${URL_HTTPS}/healthz`, '--ca', caPath()]);
    assert.equal(r.status, 200, `the daemon stopped answering: ${JSON.stringify(r)}\n${daemon.output.slice(-2000)}`);
  });

  test('over HTTPS the session cookie is Secure and HSTS is sent', async () => {
    const r = await probe(['http', `${URL_HTTPS}/v1/auth/login`, '--ca', caPath(), '--method', 'POST', '--body', JSON.stringify({ user: 'ada', password: PASSWORD })]);
    assert.equal(r.status, 200, JSON.stringify(r));
    const cookie = String(r.headers?.['set-cookie']);
    assert.match(cookie, /;\s*Secure/i, cookie);
    assert.match(String(r.headers?.['strict-transport-security']), /max-age=\d{7,}/);
  });
});

describe('the CLI verifies the server', () => {
  test('a wrong pinned fingerprint is refused before the password is sent', async () => {
    const wrong = fingerprint.split(':').reverse().join(':');
    const r = await cliRemote(['--url', URL_HTTPS, 'login', '--user', 'ada', '--fingerprint', wrong], `${PASSWORD}\n`);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /is not trusted: its certificate's fingerprint is/);
    assert.match(r.stderr, /ardesia tls show/, 'the hint says how to check');
    assert.equal(existsSync(join(work, 'config', 'ardesia', 'token')), false);
  });

  test('with no pin and no CA, Ardesia’s own certificate is not silently trusted', async () => {
    const r = await cliRemote(['--url', URL_HTTPS, 'login', '--user', 'ada'], `${PASSWORD}\n`);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /not trusted/);
    assert.match(r.stderr, /--fingerprint/);
  });

  test('the right fingerprint logs in; the pin is kept with the login and used; --ca works too', async () => {
    const r = await cliRemote(['--url', URL_HTTPS, 'login', '--user', 'ada', '--fingerprint', fingerprint.replace(/:/g, '').toLowerCase()], `${PASSWORD}\n`);
    assert.equal(r.code, 0, r.stderr);
    const saved = JSON.parse(readFileSync(join(work, 'config', 'ardesia', 'login.json'), 'utf8')) as { url: string; fingerprint: string };
    assert.equal(saved.fingerprint, fingerprint);
    assert.equal(statSync(join(work, 'config', 'ardesia', 'login.json')).mode & 0o777, 0o600);
    const later = await cliRemote(['--url', URL_HTTPS, 'vm', 'status']);
    assert.equal(later.code, 0, later.stderr);
    const byCa = await cliRemote(['--url', URL_HTTPS, '--ca', caPath(), 'tls', 'show']);
    assert.equal(byCa.code, 0, byCa.stderr);
    assert.ok(byCa.stdout.includes(fingerprint));
  });
});

describe('SPICE and the display socket', () => {
  let vv = '';
  before(async () => {
    const conf = join(work, 'tls.conf');
    writeFileSync(conf, `vm "tlsvm" {\n memory 96M\n boot "${g.amd64.kernel}"\n initrd "${g.amd64.initrd}"\n cmdline "console=ttyS0 quiet"\n disable\n}\n`);
    chmodSync(work, 0o755);
    const load = await daemon.cli(['vm', 'load', conf]);
    assert.equal(load.code, 0, load.stderr);
    const api = daemon.api();
    const current = await api.request<VmStatus>('GET', '/v1/vms/tlsvm');
    await api.request('POST', '/v1/vms', { spec: { ...current.spec, display: { spice: { listen: SERVER } } } });
    await api.request('POST', '/v1/vms/tlsvm/start', {});
    vv = await api.request<string>('GET', '/v1/desktops/tlsvm/spice.vv');
  });

  test('QEMU listens for SPICE on a TLS port only, with credentials Ardesia made', async () => {
    const pid = Number(readFileSync(join(daemon.dataDir, 'runtime', 'tlsvm', 'qemu.pid'), 'utf8'));
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const spice = cmdline[cmdline.indexOf('-spice') + 1]!;
    // QEMU (the unprivileged account) reads a copy in its own runtime folder; the data folder's key stays root's.
    assert.match(spice, new RegExp(`addr=${SERVER.replace(/\./g, '\\.')},tls-port=\\d+,x509-dir=[^,]+/runtime/tlsvm/spice-x509(,|$)`), spice);
    assert.doesNotMatch(spice, /(^|,)port=/, 'no plain port');
    assert.equal(statSync(join(daemon.dataDir, 'tls', 'spice', 'server-key.pem')).mode & 0o777, 0o600);
    const copy = statSync(join(daemon.dataDir, 'runtime', 'tlsvm', 'spice-x509', 'server-key.pem'));
    assert.equal(copy.mode & 0o777, 0o600);
    assert.equal(copy.uid, Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)![1]), 'the key copy belongs to the account QEMU runs as');
  });

  test('the .vv carries the TLS port, Ardesia’s CA and the host subject, and no plain port', () => {
    assert.match(vv, /^tls-port=\d+$/m);
    assert.doesNotMatch(vv, /^port=/m);
    assert.match(vv, /^ca=-----BEGIN CERTIFICATE-----\\n[A-Za-z0-9+/=\\n]+-----END CERTIFICATE-----$/m);
    assert.match(vv, /^host-subject=O=Ardesia,CN=ardesia-spice$/m);
    const ca = /^ca=(.*)$/m.exec(vv)![1]!.replace(/\\n/g, '\n');
    assert.equal(new X509Certificate(ca).fingerprint256, new X509Certificate(readFileSync(caPath())).fingerprint256);
  });

  test('a TLS client trusting the .vv CA links; a plain client and one trusting another CA do not', async () => {
    const field = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(vv)![1]!;
    const port = field('tls-port');
    const password = field('password');
    const caFile = join(work, 'vv-ca.pem');
    writeFileSync(caFile, field('ca').replace(/\\n/g, '\n'));
    const plain = await probe(['spice', SERVER, port, password]);
    assert.ok(plain.error !== undefined, `a plain SPICE client must not be answered: ${JSON.stringify(plain)}`);
    const otherCa = await probe(['spice', SERVER, port, password, '--ca', join(daemon.dataDir, 'tls', 'server.crt'), '--subject', field('host-subject')]);
    assert.ok(otherCa.error !== undefined, `a certificate the client's CA did not sign must be refused: ${JSON.stringify(otherCa)}`);
    const linked = await probe(['spice', SERVER, port, password, '--ca', caFile, '--subject', field('host-subject')]);
    assert.deepEqual(linked, { result: 0 });
  });

  test('Chromium on the HTTPS portal logs in with a Secure cookie and gets the display over wss://', async () => {
    // Chromium runs in the namespace; it trusts exactly this server key (SPKI pin), nothing else.
    const wrapper = join(work, 'chromium-in-ns.sh');
    writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${ns} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
    const cert = new X509Certificate(readFileSync(join(daemon.dataDir, 'tls', 'server.crt')));
    const spki = createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
    const browser = await chromium.launch({ executablePath: wrapper, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', `--ignore-certificate-errors-spki-list=${spki}`] });
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`${URL_HTTPS}/`);
      await page.getByLabel('User name').fill('ada');
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Log in' }).click();
      await until('the portal to show the logged-in user', async () => (await context.cookies()).length > 0, 30_000, 200);
      const cookies = await context.cookies();
      assert.ok(cookies.length > 0 && cookies.every((c) => c.secure), JSON.stringify(cookies));
      const sockets: string[] = [];
      page.on('websocket', (ws) => sockets.push(ws.url()));
      // The page's own display path: a ticket from the API with the session cookie, then the socket the portal's rule builds.
      const greeting = await page.evaluate(async (vm) => {
        const res = await fetch(`/v1/desktops/${vm}/display`, { method: 'POST' });
        const { path } = (await res.json()) as { path: string };
        const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`, ['binary']);
        ws.binaryType = 'arraybuffer';
        return new Promise<string>((resolve, reject) => {
          ws.onmessage = (m) => { resolve(new TextDecoder().decode(m.data as ArrayBuffer).slice(0, 12)); ws.close(); };
          ws.onerror = () => reject(new Error('the display socket failed'));
        });
      }, 'tlsvm');
      assert.equal(greeting, 'RFB 003.008\n');
      assert.equal(sockets.length, 1);
      assert.match(sockets[0]!, new RegExp(`^wss://${SERVER.replace(/\./g, '\\.')}:${PORT}/v1/display/socket\\?ticket=`));
    } finally {
      await browser.close();
    }
  });
});

describe('plain HTTP off loopback only when asked', () => {
  test('--insecure-http serves plain HTTP and says so loudly', async () => {
    const other = await TestDaemon.start({ extraArgs: ['--listen', `${SERVER}:8081`, '--insecure-http'], netns: ns });
    try {
      assert.match(other.output, /INSECURE: --insecure-http serves plain HTTP/);
      const r = await probe(['http', `http://${SERVER}:8081/healthz`]);
      assert.equal(r.status, 200, JSON.stringify(r));
      assert.equal(existsSync(join(other.dataDir, 'tls', 'server.crt')), false, 'no certificate was needed');
    } finally {
      await other.destroy();
    }
  });
});
