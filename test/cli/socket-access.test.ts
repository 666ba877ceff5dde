// The CLI run as an unprivileged user against the real daemon's socket: root-only, it says the daemon runs and
// how to reach it (not "start the daemon"); with --socket-group its members get through (and still need a
// token); a socket nobody listens on, or none at all, keeps "start the daemon".
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ERROR_REGISTRY } from '../../src/contract/errors.js';
import { runCli, TestDaemon } from '../helpers/daemon.js';

const NOBODY = { uid: 65534, gid: 65534 }; // Debian's nobody:nogroup

const daemons: TestDaemon[] = [];
after(async () => {
  for (const d of daemons) await d.destroy();
});

/** The CLI's --json failure body. */
function errorOf(stdout: string): { code: string; message: string; hint: string } {
  return (JSON.parse(stdout) as { error: { code: string; message: string; hint: string } }).error;
}

test('a root-only socket: an unprivileged user is told the daemon runs and how to reach it', async () => {
  const daemon = await TestDaemon.start();
  daemons.push(daemon);
  assert.equal(statSync(daemon.socket).mode & 0o777, 0o600);
  const text = await runCli(daemon.dataDir, ['vm', 'status'], NOBODY);
  assert.equal(text.code, 1);
  assert.match(text.stderr, /socket .* exists, but this user \(uid 65534\) may not open it \(EACCES\)/);
  assert.ok(text.stderr.includes(ERROR_REGISTRY.DAEMON_SOCKET_DENIED.hint), text.stderr);
  assert.doesNotMatch(text.stderr, /Start the daemon/);
  const json = await runCli(daemon.dataDir, ['--json', 'vm', 'status'], NOBODY);
  const e = errorOf(json.stdout);
  assert.equal(e.code, 'DAEMON_SOCKET_DENIED');
  for (const way of [/as root/, /--socket-group/, /--url/]) assert.match(e.hint, way);
});

test('--socket-group lets the group connect; each request still needs a token', async () => {
  const daemon = await TestDaemon.start({ extraArgs: ['--socket-group', 'nogroup'] });
  daemons.push(daemon);
  const st = statSync(daemon.socket);
  assert.deepEqual({ mode: st.mode & 0o777, gid: st.gid }, { mode: 0o660, gid: NOBODY.gid });
  const r = await runCli(daemon.dataDir, ['--json', 'vm', 'status'], NOBODY);
  assert.equal(r.code, 1);
  assert.equal(errorOf(r.stdout).code, 'UNAUTHENTICATED', 'the daemon answered: the socket let the group in');
});

test('an unknown --socket-group stops the daemon at start with its code', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ard-'));
  const r = await runCli(dataDir, ['serve', '--socket-group', 'no-such-group-x'], { timeoutMs: 60_000 });
  rmSync(dataDir, { recursive: true, force: true });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /there is no group no-such-group-x/);
  assert.ok(r.stderr.includes(ERROR_REGISTRY.SOCKET_GROUP_UNKNOWN.hint), r.stderr);
});

test('no socket, or a socket nobody listens on: "start the daemon"', async () => {
  const daemon = daemons[0]!;
  const none = await runCli(daemon.dataDir, ['--json', '--socket', join(daemon.dataDir, 'nosuch.sock'), 'vm', 'status']);
  assert.equal(errorOf(none.stdout).code, 'DAEMON_UNREACHABLE');
  assert.match(errorOf(none.stdout).message, /ENOENT/);
  await daemon.kill('SIGKILL'); // the socket file stays, with no one listening
  const refused = await runCli(daemon.dataDir, ['--json', 'vm', 'status']);
  const e = errorOf(refused.stdout);
  assert.equal(e.code, 'DAEMON_UNREACHABLE');
  assert.match(e.message, /ECONNREFUSED/);
  assert.match(e.hint, /Start the daemon/);
});
