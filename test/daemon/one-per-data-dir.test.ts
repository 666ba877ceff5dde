// One process per data folder: a second `ardesia serve` (or `netboot serve`) on a folder in use exits
// non-zero naming the holder's pid and leaves the first one's socket answering; after a kill -9 of
// the holder the folder is free again (the kernel dropped the lock), with no stale file to clean up.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLI, runCli, TestDaemon, until } from '../helpers/daemon.js';

let dir: string;
let daemon: TestDaemon;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ard1-'));
  daemon = new TestDaemon(join(dir, 'data'));
});
after(async () => {
  await daemon.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** `netboot serve` in a network namespace of its own (loopback only), so its DHCP port touches nothing else. */
function netbootServe(dataDir: string): { proc: ChildProcess; output: () => string } {
  const config = join(dir, 'netboot.yaml');
  writeFileSync(config, 'interfaces:\n  - address: 127.0.0.1\n    mode: proxy\n    tftp: { enabled: false }\n');
  const proc = spawn('unshare', ['--net', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, CLI, '--data-dir', dataDir, 'netboot', 'serve', '--config', config, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { proc, output: () => out };
}

async function sigkill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  await new Promise<void>((done) => {
    proc.once('exit', () => done());
    proc.kill('SIGKILL');
  });
}

test('a second serve is refused with the pid; the first keeps answering; after kill -9 a new serve starts', async () => {
  await daemon.spawn();
  const firstPid = daemon.proc!.pid!;
  const second = await runCli(daemon.dataDir, ['serve'], { timeoutMs: 60_000 });
  assert.notEqual(second.code, 0);
  assert.match(second.stderr, new RegExp(`in use by ardesia serve \\(pid ${firstPid}\\)`));
  assert.match(second.stderr, /stop it first/);
  assert.ok(existsSync(daemon.socket), 'the live socket is still there');
  assert.equal((await daemon.api().request<{ ok: boolean }>('GET', '/healthz')).ok, true, 'the first daemon still answers on its socket');

  // The configuration is read first: a valid one, so that the lock is what refuses (its address is on no link).
  writeFileSync(join(dir, 'nb.yaml'), 'interfaces:\n  - address: 10.250.77.1\n    mode: proxy\n');
  const refused = await runCli(daemon.dataDir, ['netboot', 'serve', '--config', join(dir, 'nb.yaml')], { timeoutMs: 60_000 });
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, new RegExp(`in use by ardesia serve \\(pid ${firstPid}\\)`));

  await daemon.kill('SIGKILL');
  assert.ok(existsSync(join(daemon.dataDir, 'ardesia.lock')), 'the lock file outlives its holder; only the kernel lock counted');
  await daemon.spawn();
  assert.notEqual(daemon.proc!.pid, firstPid);
  assert.equal((await daemon.api().request<{ ok: boolean }>('GET', '/healthz')).ok, true);
  await daemon.kill('SIGTERM');
});

test('serve is refused while netboot serve holds the folder, and starts once that was killed -9', async () => {
  const netboot = netbootServe(daemon.dataDir);
  try {
    await until('netboot serve to listen', () => netboot.output().includes('ardesia netboot listening'), 60_000);
    const refused = await runCli(daemon.dataDir, ['serve'], { timeoutMs: 60_000 });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, new RegExp(`in use by ardesia netboot serve \\(pid ${netboot.proc.pid}\\)`));
  } finally {
    await sigkill(netboot.proc);
  }
  await daemon.spawn();
  assert.equal((await daemon.api().request<{ ok: boolean }>('GET', '/healthz')).ok, true);
});
