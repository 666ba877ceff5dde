// Backup and restore on SQLite with the real daemon and CLI: through the running daemon and offline, restored
// into a new folder that a daemon then serves; bad inputs (damaged, truncated, altered archives, a non-empty
// target) refused with their registry codes and nothing left behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createHash } from 'node:crypto';
import SqliteDatabase from 'better-sqlite3';
import { runCli, TestDaemon } from '../helpers/daemon.js';
import { ApiClient } from '../../src/cli/client.js';
import { ArdesiaError } from '../../src/contract/errors.js';

let daemon: TestDaemon;
let work: string;
let imageSha: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'ard-bk-'));
  daemon = await TestDaemon.start({ extraArgs: ['--listen', '127.0.0.1:0', '--tls'] });
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(work, 'disk.qcow2'), '16M']);
  const img = await daemon.cli(['--json', 'image', 'create', 'base', '--from', join(work, 'disk.qcow2')]);
  assert.equal(img.code, 0, img.stderr);
  imageSha = (JSON.parse(img.stdout) as { versions: Array<{ sha256: string }> }).versions[0]!.sha256;
  await daemon.api().request('POST', '/v1/users', { name: 'alice', password: 'correct-horse-battery-1' });
  // A desktop with alice's home: the home file is made (ext4) and recorded, not attached (the desktop is stopped).
  await daemon.api().request('POST', '/v1/desktops', { name: 'ws1', image: 'base', home: 'alice', homeSizeBytes: 32 * 2 ** 20 });
});

after(async () => {
  await daemon?.destroy();
  rmSync(work, { recursive: true, force: true });
});

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function expectRefused(res: { code: number; stderr: string }, code: RegExp, message: RegExp): void {
  assert.equal(res.code, 1, res.stderr);
  assert.match(res.stderr, message);
  assert.match(res.stderr, code);
}

test('a backup through the running daemon, restored into a new folder, serves the same site', async () => {
  const file = join(work, 'site.tar');
  const res = await daemon.cli(['backup', file, '--with-images', '--with-homes']);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /1 of 1 image version, 1 of 1 home/);
  assert.ok(!readdirSync(work).some((f) => f.includes('.tmp-')), 'no temporary file left');
  assert.equal(statSync(file).mode & 0o777, 0o600, 'the archive holds secrets: owner-only');
  const members = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).split('\n');
  for (const m of ['SHA256SUMS', 'manifest.json', 'store/ardesia.db', 'tls/ca.key', 'tls/server.crt', 'root.token', 'images/base/1.qcow2', 'homes/alice/home.qcow2']) assert.ok(members.includes(m), `${m} in ${members.join(' ')}`);
  // SHA256SUMS is sha256sum's own format: the tool checks the extracted archive too.
  const unpacked = join(work, 'unpacked');
  mkdirSync(unpacked);
  execFileSync('tar', ['-xf', file, '-C', unpacked]);
  execFileSync('sha256sum', ['--quiet', '-c', 'SHA256SUMS'], { cwd: unpacked });
  const manifest = JSON.parse(readFileSync(join(unpacked, 'manifest.json'), 'utf8'));
  assert.deepEqual(manifest.images, [{ image: 'base', version: 1, sha256: imageSha, member: 'images/base/1.qcow2', included: true }]);
  assert.equal(manifest.homes[0].user, 'alice');
  assert.equal(manifest.homes[0].sha256, sha(join(daemon.dataDir, 'homes/alice/home.qcow2')));

  const target = join(work, 'restored');
  const r = await runCli(target, ['restore', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /sha256 verified/);
  assert.equal(sha(join(target, 'images/base/1.qcow2')), imageSha);
  assert.equal(readFileSync(join(target, 'tls/ca.key'), 'utf8'), readFileSync(join(daemon.dataDir, 'tls/ca.key'), 'utf8'), 'the CA clients pin comes back');
  assert.equal(statSync(join(target, 'tls/ca.key')).mode & 0o777, 0o600);
  assert.equal(statSync(target).mode & 0o777, 0o711);
  const second = await TestDaemon.start({ dataDir: target });
  try {
    // The restored root token is the old one: the CLI of the old site works unchanged.
    assert.equal(readFileSync(join(target, 'root.token'), 'utf8'), readFileSync(join(daemon.dataDir, 'root.token'), 'utf8'));
    const users = await second.api().request<Array<{ name: string }>>('GET', '/v1/users');
    assert.ok(users.some((u) => u.name === 'alice'));
    const homes = await second.api().request<Array<{ user: string; leasedTo: string | null }>>('GET', '/v1/homes');
    assert.deepEqual(homes.map((h) => h.user), ['alice']);
  } finally {
    await second.destroy();
  }
});

test('only an administrator may take a backup through the API; an unwritable target is said before any work', async () => {
  const { token } = await new ApiClient({ socketPath: daemon.socket }).request<{ token: string }>('POST', '/v1/auth/tokens', { user: 'alice', password: 'correct-horse-battery-1' });
  const err = await new ApiClient({ socketPath: daemon.socket, token }).download('POST', '/v1/backup', {}, join(work, 'alice.tar')).then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof ArdesiaError && err.code === 'FORBIDDEN', String(err));
  const r = await daemon.cli(['backup', join(work, 'no-such-folder', 'x', 'site.tar')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot write the backup beside/);
});

test('offline: with the daemon stopped the CLI reads the data folder itself; a running daemon is used instead', async () => {
  await daemon.kill('SIGTERM');
  try {
    const file = join(work, 'offline.tar');
    const res = await daemon.cli(['backup', file]);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /0 of 1 image version, 0 of 1 home/);
    const listing = execFileSync('tar', ['-tf', file], { encoding: 'utf8' });
    assert.doesNotMatch(listing, /images\/base\/1\.qcow2/);
    const target = join(work, 'restored-offline');
    const r = await runCli(target, ['restore', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(target, 'ardesia.db')));

    // A home the store says is leased may be written by a VM that outlived the daemon: offline, it is refused.
    const db = new SqliteDatabase(join(daemon.dataDir, 'ardesia.db'));
    db.prepare("update homes set leased_to = 'ws1', leased_at = 'x' where user = 'alice'").run();
    db.close();
    const leased = await daemon.cli(['backup', join(work, 'leased.tar'), '--with-homes']);
    expectRefused(leased, /log the user off, or back up without --with-homes/, /home of alice is leased to desktop ws1.*offline backup cannot copy it/);
    assert.ok(!existsSync(join(work, 'leased.tar')) && !readdirSync(work).some((f) => f.includes('.tmp-') || f.startsWith('.backup-')), 'nothing written, no staging left');
    const undo = new SqliteDatabase(join(daemon.dataDir, 'ardesia.db'));
    undo.prepare("update homes set leased_to = null, leased_at = null where user = 'alice'").run();
    undo.close();
  } finally {
    await daemon.spawn();
  }
});

test('bad inputs: damaged, truncated and altered archives, and a non-empty target, are refused; nothing is left behind', async () => {
  const good = join(work, 'good.tar');
  assert.equal((await daemon.cli(['backup', good, '--with-images'])).code, 0);
  const bytes = readFileSync(good);
  const cases: Array<[string, Buffer, RegExp]> = [];
  // One byte of the image's data flipped (the header intact): its sha256 no longer matches.
  const at = bytes.indexOf(Buffer.from('QFI\xfb', 'latin1'));
  assert.ok(at > 0);
  const flipped = Buffer.from(bytes);
  flipped[at + 4096] = flipped[at + 4096]! ^ 0xff;
  cases.push(['damaged.tar', flipped, /images\/base\/1\.qcow2: sha256 .* differs from SHA256SUMS/]);
  cases.push(['truncated.tar', bytes.subarray(0, Math.floor(bytes.length / 2)), /truncated|end-of-archive/]);
  cases.push(['not-a-tar.tar', Buffer.from('hello, this is not a backup\n'.repeat(40)), /checksum|malformed/]);
  for (const [name, content, why] of cases) {
    writeFileSync(join(work, name), content);
    const target = join(work, `target-${name}`);
    const r = await runCli(target, ['restore', join(work, name)]);
    expectRefused(r, /another copy of the backup/, why);
    assert.ok(!existsSync(target), `${name}: no data folder made`);
    assert.ok(!readdirSync(work).some((f) => f.includes('.restore-')), `${name}: no temporary folder left`);
  }

  // An altered SHA256SUMS (one digit of the store's line) and a manifest whose image sha256 is not the store's.
  const edit = join(work, 'edit');
  mkdirSync(edit);
  execFileSync('tar', ['-xf', good, '-C', edit]);
  const sums = readFileSync(join(edit, 'SHA256SUMS'), 'utf8');
  const storeLine = sums.split('\n').find((l) => l.endsWith('  store/ardesia.db'))!;
  writeFileSync(join(edit, 'SHA256SUMS'), sums.replace(storeLine, `${storeLine[0] === '0' ? '1' : '0'}${storeLine.slice(1)}`));
  const members = execFileSync('tar', ['-tf', good], { encoding: 'utf8' }).trim().split('\n');
  execFileSync('tar', ['--format=ustar', '--no-recursion', '-cf', join(work, 'wrong-sum.tar'), '-C', edit, ...members]);
  expectRefused(await runCli(join(work, 'target-ws'), ['restore', join(work, 'wrong-sum.tar')]), /BACKUP|another copy/, /store\/ardesia\.db: sha256 .* differs from SHA256SUMS/);

  writeFileSync(join(edit, 'SHA256SUMS'), sums);
  const manifest = readFileSync(join(edit, 'manifest.json'), 'utf8');
  writeFileSync(join(edit, 'manifest.json'), manifest.replace(imageSha, 'f'.repeat(64)));
  const manifestSha = sha(join(edit, 'manifest.json'));
  writeFileSync(join(edit, 'SHA256SUMS'), sums.replace(/^[0-9a-f]{64}(?=  manifest\.json$)/m, manifestSha));
  execFileSync('tar', ['--format=ustar', '--no-recursion', '-cf', join(work, 'wrong-image.tar'), '-C', edit, ...members]);
  expectRefused(await runCli(join(work, 'target-wi'), ['restore', join(work, 'wrong-image.tar')]), /another copy/, /image base version 1: sha256 .* is not the f+ the store recorded/);

  // A non-empty target: refused before anything is read, what is there untouched.
  const busy = join(work, 'busy');
  mkdirSync(busy);
  writeFileSync(join(busy, 'keep.txt'), 'mine\n');
  expectRefused(await runCli(busy, ['restore', good]), /empty \(or new\) data folder/, /is not empty \(keep\.txt\)/);
  assert.deepEqual(readdirSync(busy), ['keep.txt']);
});

test('an archive member outside the known layout is refused before extraction', async () => {
  const evil = join(work, 'evil');
  mkdirSync(join(evil, 'etc'), { recursive: true });
  writeFileSync(join(evil, 'etc', 'cron'), 'x\n');
  execFileSync('tar', ['--format=ustar', '-cf', join(work, 'evil.tar'), '-C', evil, 'etc']);
  const target = join(work, 'target-evil');
  expectRefused(await runCli(target, ['restore', join(work, 'evil.tar')]), /another copy/, /etc.* is not part of an Ardesia backup/);
  assert.ok(!existsSync(target));
});
