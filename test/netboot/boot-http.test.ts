// The HTTP boot chain and the inventory API on a real daemon (loopback, no QEMU): per-MAC iPXE
// scripts that register clients, the OS files with Range/ETag/HEAD, path traversal, the kiosk
// settings, the CLI, and who may use the /v1/thinclients routes.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';

interface Raw { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }

let daemon: TestDaemon;
let base: URL;
const tokens: Record<'admin' | 'user' | 'other', string> = { admin: '', user: '', other: '' };
const files: Record<string, Buffer> = { vmlinuz: randomBytes(300_000), 'initrd.img': randomBytes(70_000), 'root.squashfs': randomBytes(1_000) };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Sends the path exactly as written (fetch would normalise `..`). */
function raw(method: string, path: string, headers: Record<string, string> = {}, token?: string, body?: unknown): Promise<Raw> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request({ host: base.hostname, port: base.port, method, path, headers: {
      ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}), ...(payload ? { 'content-type': 'application/json' } : {}),
    } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}
const json = (r: Raw) => JSON.parse(r.body.toString()) as Record<string, unknown>;

before(async () => {
  daemon = await TestDaemon.start({ extraArgs: ['--listen', '127.0.0.1:0'] });
  base = new URL(/"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output)![1]!);
  const os = join(daemon.dataDir, 'thinclient', 'current-amd64');
  mkdirSync(os, { recursive: true });
  const manifest: { files: Record<string, { size: number; sha256: string }>; kernelCmdline: string } = { files: {}, kernelCmdline: 'console=ttyS0 quiet' };
  for (const [name, bytes] of Object.entries(files)) {
    writeFileSync(join(os, name), bytes);
    manifest.files[name] = { size: bytes.length, sha256: sha(bytes) };
  }
  writeFileSync(join(os, 'manifest.json'), JSON.stringify(manifest));
  writeFileSync(join(os, 'secret.txt'), 'not listed in the manifest');
  // Owners in a vm.conf get token files: `nobody` is "user", `daemon` the "other user".
  const g = guestArtifacts();
  const conf = join(daemon.dataDir, 'owners.conf');
  const vm = (name: string, owner: string) => `vm "${name}" {\n memory 64M\n boot "${g.amd64.kernel}"\n owner ${owner}\n disable\n}\n`;
  writeFileSync(conf, vm('a', 'nobody') + vm('b', 'daemon'));
  assert.equal((await daemon.cli(['vm', 'load', conf])).code, 0);
  tokens.admin = readFileSync(join(daemon.dataDir, 'root.token'), 'utf8').trim();
  tokens.user = readFileSync(join(daemon.dataDir, 'tokens', 'nobody.token'), 'utf8').trim();
  tokens.other = readFileSync(join(daemon.dataDir, 'tokens', 'daemon.token'), 'utf8').trim();
});
after(async () => {
  await daemon?.destroy();
});

const MAC = '52:54:00:aa:00:01';

/** MAC registered by its first boot, as the first test leaves it (booted here when a later test runs alone). */
async function ensureRegistered(): Promise<void> {
  if ((await raw('GET', `/v1/thinclients/${MAC}`, {}, tokens.admin)).status === 404) assert.equal((await raw('GET', `/boot/ipxe?mac=${MAC}`)).status, 200);
}

test('an unknown MAC asking for its script is registered as new and boots (no approval required by default)', async () => {
  const r = await raw('GET', `/boot/ipxe?mac=${MAC.toUpperCase()}`);
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^text\/plain/);
  const script = r.body.toString();
  assert.match(script, /^#!ipxe\n/);
  assert.match(script, new RegExp(`\nkernel ${base.origin}/boot/files/amd64/vmlinuz initrd=initrd\\.img console=ttyS0 quiet ardesia\\.server=${base.origin} ardesia\\.mac=\\$\\{mac\\}\n`));
  assert.match(script, new RegExp(`\ninitrd ${base.origin}/boot/files/amd64/initrd\\.img\nboot\n`));
  // Only amd64 is built: a 32-bit-only PC is told what to build.
  assert.match(script, /CPU has no 64-bit mode; ask an administrator to run: ardesia thinclient build --arch i386/);
  const client = json(await raw('GET', `/v1/thinclients/${MAC}`, {}, tokens.admin));
  assert.equal(client.state, 'new');
  assert.equal(client.bootCount, 1);
  assert.equal(client.lastIp, '127.0.0.1');
  assert.ok(daemon.output.includes('"event":"boot-script"'));
});

test('boot params, disable and enable through the CLI; a disabled client is told so and does not count a boot', async () => {
  await ensureRegistered();
  let r = await daemon.cli(['thinclient', 'set', MAC, '--name', 'desk-1', '--place', 'Room 2', '--boot-params', 'i915.modeset=1', '--keyboard', 'de', '--resolution', '1280x1024', '--pool', 'office']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /name:\s+desk-1/);
  assert.match((await raw('GET', `/boot/ipxe?mac=${MAC}`)).body.toString(), / quiet i915\.modeset=1 ardesia\.server=/);
  r = await daemon.cli(['thinclient', 'disable', MAC]);
  assert.equal(r.code, 0, r.stderr);
  const refused = (await raw('GET', `/boot/ipxe?mac=${MAC}`)).body.toString();
  assert.match(refused, /This thin client is not enabled; ask an administrator \(MAC 52:54:00:aa:00:01\)/);
  assert.doesNotMatch(refused, /\nkernel /);
  r = await daemon.cli(['--json', 'thinclient', 'show', MAC]);
  assert.equal((JSON.parse(r.stdout) as { bootCount: number }).bootCount, 2);
  assert.equal((await daemon.cli(['thinclient', 'enable', MAC])).code, 0);
  // A PC added ahead of its first boot, held back until enabled.
  r = await daemon.cli(['thinclient', 'add', '52:54:00:aa:00:0a', '--place', 'Room 9', '--disabled']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /state:\s+disabled/);
  assert.match((await raw('GET', '/boot/ipxe?mac=52:54:00:aa:00:0a')).body.toString(), /This thin client is not enabled/);
  r = await daemon.cli(['thinclient', 'add', '52:54:00:aa:00:0a']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /already in the inventory/);
  const list = await daemon.cli(['thinclient', 'list']);
  assert.match(list.stdout, /52:54:00:aa:00:01\s+desk-1\s+enabled\s+Room 2\s+office\s+127\.0\.0\.1\s+2\s/);
});

test('the kiosk settings of a client', async () => {
  // The settings the CLI test gives MAC, given through the API when this test runs alone.
  await ensureRegistered();
  if (json(await raw('GET', `/v1/thinclients/${MAC}`, {}, tokens.admin)).name !== 'desk-1') {
    const set = await raw('PATCH', `/v1/thinclients/${MAC}`, {}, tokens.admin, { name: 'desk-1', state: 'enabled', keyboardLayout: 'de', resolution: '1280x1024', pool: 'office' });
    assert.equal(set.status, 200, set.body.toString());
  }
  const cfg = json(await raw('GET', `/boot/thinclient/config?mac=${MAC}`));
  assert.deepEqual(cfg, { portalUrl: `${base.origin}/?thinclient=${MAC}`, keyboardLayout: 'de', resolution: '1280x1024' }, 'only what the kiosk uses');
  assert.equal((await raw('GET', '/boot/thinclient/config?mac=52:54:00:00:00:99')).status, 404);
  assert.equal((await raw('GET', '/boot/thinclient/config?mac=nonsense')).status, 400);
});

test('boot files: whole, ranges, suffix range, 416, HEAD, ETag from the manifest', async () => {
  const kernel = files.vmlinuz!;
  let r = await raw('GET', '/boot/files/amd64/vmlinuz');
  assert.equal(r.status, 200);
  assert.equal(sha(r.body), sha(kernel));
  assert.equal(r.headers.etag, `"${sha(kernel)}"`);
  assert.equal(r.headers['accept-ranges'], 'bytes');
  r = await raw('GET', '/boot/files/amd64/vmlinuz', { range: 'bytes=1000-1999' });
  assert.equal(r.status, 206);
  assert.equal(r.headers['content-range'], `bytes 1000-1999/${kernel.length}`);
  assert.ok(r.body.equals(kernel.subarray(1000, 2000)));
  r = await raw('GET', '/boot/files/amd64/vmlinuz', { range: 'bytes=-100' });
  assert.equal(r.status, 206);
  assert.ok(r.body.equals(kernel.subarray(kernel.length - 100)));
  r = await raw('GET', '/boot/files/amd64/vmlinuz', { range: `bytes=${kernel.length}-` });
  assert.equal(r.status, 416);
  assert.equal(r.headers['content-range'], `bytes */${kernel.length}`);
  r = await raw('HEAD', '/boot/files/amd64/initrd.img');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-length'], String(files['initrd.img']!.length));
  assert.equal(r.body.length, 0);
  r = await raw('GET', '/boot/files/amd64/initrd.img', { 'if-none-match': `"${sha(files['initrd.img']!)}"` });
  assert.equal(r.status, 304);
  // The manifest itself: the initramfs checks the root image against its sha256 sums.
  // Only amd64 is built here: the i386 files are unavailable, and the answer says so.
  r = await raw('GET', '/boot/files/i386/vmlinuz');
  assert.equal(r.status, 503);
  assert.match(r.body.toString(), /no i386 thin-client OS is built/);
  r = await raw('GET', '/boot/files/amd64/manifest.json');
  assert.equal(r.status, 200);
  assert.ok(r.body.equals(readFileSync(join(daemon.dataDir, 'thinclient', 'current-amd64', 'manifest.json'))));
});

test('path traversal in the boot routes gets nothing, and a valid client is answered throughout', async () => {
  const attempts = [
    '/boot/files/../ardesia.db', '/boot/files/..%2fardesia.db', '/boot/files/%2e%2e%2fardesia.db', '/boot/files/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
    '/boot/files/%2e%2e', '/boot/files/..', '/boot/files/%2fetc%2fpasswd', '/boot/files//etc/passwd', '/boot/files/vmlinuz%00.txt',
    '/boot/files/vmlinuz%00', '/boot/files/secret.txt', '/boot/files/.%2e/root.token', '/boot/..%2froot.token',
    '/boot/%2e%2e%2froot.token.ipxe', '/boot/files/%5c..%5croot.token', '/boot/files/' + 'a'.repeat(5000),
    // With the architecture folder: traversal from it, a file the manifest does not list, an arch not built or unknown.
    '/boot/files/amd64/../../ardesia.db', '/boot/files/amd64/..%2f..%2fardesia.db', '/boot/files/amd64/%2e%2e', '/boot/files/amd64/secret.txt',
    '/boot/files/..%2froot.token/vmlinuz', '/boot/files/x86_64/vmlinuz', '/boot/files/amd64/vmlinuz%00',
  ];
  const secrets = [readFileSync(join(daemon.dataDir, 'root.token')), Buffer.from('not listed in the manifest'), Buffer.from('root:x:0:0')];
  for (const path of attempts) {
    const [bad, good] = await Promise.all([raw('GET', path), raw('GET', '/boot/files/amd64/root.squashfs')]);
    assert.ok(bad.status >= 400 && bad.status < 500, `${path} → ${bad.status}`);
    for (const secret of secrets) assert.ok(!bad.body.includes(secret), `${path} leaked a file`);
    assert.equal(good.status, 200);
    assert.ok(good.body.equals(files['root.squashfs']!));
  }
});

test('an administrator adds a PC before its first boot: it boots with its settings; a MAC twice, a taken name and a bad MAC are refused and leave nothing', async () => {
  const mac = '52:54:00:aa:00:07';
  const added = await raw('POST', '/v1/thinclients', {}, tokens.admin, { mac: mac.toUpperCase(), name: 'desk-7', place: 'Library', resolution: '1024x768', keyboardLayout: 'de' });
  assert.equal(added.status, 201, added.body.toString());
  assert.deepEqual({ ...json(added), lastSeenAt: null }, {
    mac, name: 'desk-7', place: 'Library', pool: null, state: 'enabled', keyboardLayout: 'de', resolution: '1024x768',
    bootParams: null, lastSeenAt: null, lastIp: null, bootCount: 0, currentUser: null, kioskUser: null,
  });
  // Its first boot uses the settings: the kiosk reads them from its config.
  assert.equal((await raw('GET', `/boot/ipxe?mac=${mac}`)).status, 200);
  const config = json(await raw('GET', `/boot/thinclient/config?mac=${mac}`));
  assert.deepEqual([config.keyboardLayout, config.resolution], ['de', '1024x768']);
  assert.equal(json(await raw('GET', `/v1/thinclients/${mac}`, {}, tokens.admin)).bootCount, 1);
  // A mode the kiosk cannot set is refused, naming the ones it can.
  const badMode = await raw('POST', '/v1/thinclients', {}, tokens.admin, { mac: '52:54:00:aa:00:0b', resolution: '1366x768' });
  assert.equal(badMode.status, 400);
  assert.match(badMode.body.toString(), /one of 800x600, 1024x768, 1280x1024/);

  const twice = await raw('POST', '/v1/thinclients', {}, tokens.admin, { mac });
  assert.equal(twice.status, 409);
  assert.equal((json(twice).error as { code: string }).code, 'THINCLIENT_EXISTS');
  const nameTaken = await raw('POST', '/v1/thinclients', {}, tokens.admin, { mac: '52:54:00:aa:00:08', name: 'desk-7' });
  assert.equal((json(nameTaken).error as { code: string }).code, 'THINCLIENT_NAME_TAKEN');
  assert.equal((await raw('GET', '/v1/thinclients/52:54:00:aa:00:08', {}, tokens.admin)).status, 404, 'nothing half-added');
  assert.equal((await raw('POST', '/v1/thinclients', {}, tokens.admin, { mac: 'not-a-mac' })).status, 400);
  const audit = await raw('GET', '/v1/audit?action=thinclient.create', {}, tokens.admin);
  assert.ok((JSON.parse(audit.body.toString()) as Array<{ target: string }>).some((e) => e.target === mac), audit.body.toString());
});

/** Admin's live-update stream (GET /v1/events): the events read so far, as they come. */
function liveEvents(token: string): Promise<{ events: Array<{ type: string; data: unknown }>; close(): void }> {
  return new Promise((resolve, reject) => {
    const events: Array<{ type: string; data: unknown }> = [];
    let buffer = '';
    const req = request({ host: base.hostname, port: base.port, path: '/v1/events', headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } }, (res) => {
      assert.equal(res.statusCode, 200);
      res.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const type = /^event: (.+)$/m.exec(block)?.[1];
          const data = /^data: (.+)$/m.exec(block)?.[1];
          if (type && data) events.push({ type, data: JSON.parse(data) });
        }
      });
      resolve({ events, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

test('a PC added with only its MAC is audited, and the console is told live', async () => {
  const mac = '52:54:00:aa:00:0c';
  const live = await liveEvents(tokens.admin);
  try {
    const added = await raw('POST', '/v1/thinclients', {}, tokens.admin, { mac });
    assert.equal(added.status, 201, added.body.toString());
    const told = await until('the thinclient.create live event', () =>
      live.events.find((e) => e.type === 'thinclient' && (e.data as { action?: string }).action === 'thinclient.create' && (e.data as { target?: string }).target === mac), 30_000);
    assert.equal((told.data as { principal: string }).principal, 'root');
  } finally {
    live.close();
  }
  const audit = JSON.parse((await raw('GET', '/v1/audit?action=thinclient.create', {}, tokens.admin)).body.toString()) as Array<{ target: string; principal: string }>;
  assert.deepEqual(audit.filter((e) => e.target === mac).map((e) => e.principal), ['root']);
});

test('the old auto-login field is refused, naming kioskUser (kiosk accounts); the CLI has no such flag; the kiosk config has no key', async () => {
  const posted = await raw('POST', '/v1/thinclients', {}, tokens.admin, { mac: '52:54:00:aa:00:0d', autoLoginUser: 'kiosk' });
  assert.equal(posted.status, 400);
  const error = json(posted).error as { code: string; message: string };
  assert.equal(error.code, 'BAD_REQUEST');
  assert.match(error.message, /unknown field autoLoginUser \(a thin client opens a kiosk account: kioskUser\)/);
  assert.equal((await raw('GET', '/v1/thinclients/52:54:00:aa:00:0d', {}, tokens.admin)).status, 404, 'nothing added');
  const patched = await raw('PATCH', `/v1/thinclients/${MAC}`, {}, tokens.admin, { autoLoginUser: null });
  assert.equal(patched.status, 400);
  const cli = await daemon.cli(['thinclient', 'set', MAC, '--auto-login', 'kiosk']);
  assert.notEqual(cli.code, 0);
  assert.match(cli.stderr, /unknown option '--auto-login'/);
  assert.ok(!('autoLoginUser' in json(await raw('GET', `/boot/thinclient/config?mac=${MAC}`))));
  assert.ok(!('autoLoginUser' in json(await raw('GET', `/v1/thinclients/${MAC}`, {}, tokens.admin))));
});

test('/v1/thinclients: only administrators (anonymous 401, a user and another user 403)', async () => {
  await ensureRegistered();
  const routes: Array<[string, string, unknown?]> = [
    ['GET', '/v1/thinclients'], ['POST', '/v1/thinclients', { mac: '52:54:00:aa:00:09' }], ['GET', `/v1/thinclients/${MAC}`], ['PATCH', `/v1/thinclients/${MAC}`, { place: 'Room 3' }], ['DELETE', `/v1/thinclients/${MAC}`],
  ];
  for (const [method, path, body] of routes) {
    assert.equal((await raw(method, path, {}, undefined, body)).status, 401, `${method} ${path} anonymous`);
    assert.equal((await raw(method, path, {}, tokens.user, body)).status, 403, `${method} ${path} user`);
    assert.equal((await raw(method, path, {}, tokens.other, body)).status, 403, `${method} ${path} other user`);
  }
  assert.equal((await raw('GET', '/v1/thinclients', {}, tokens.admin)).status, 200);
  assert.equal(json(await raw('PATCH', `/v1/thinclients/${MAC}`, {}, tokens.admin, { place: 'Room 3' })).place, 'Room 3');
  assert.equal((await raw('PATCH', `/v1/thinclients/${MAC}`, {}, tokens.admin, { bootParams: 'a\nshell' })).status, 400);
  assert.equal((await raw('DELETE', `/v1/thinclients/${MAC}`, {}, tokens.admin)).status, 200);
  assert.equal((await raw('GET', `/v1/thinclients/${MAC}`, {}, tokens.admin)).status, 404);
});
