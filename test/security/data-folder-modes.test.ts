// A reader of the host (any local account) against the data folder: after a real daemon run (a VM
// owner's token made, a VM booted under QEMU, a web user added, the store written), every entry of
// the data folder has exactly the mode its row in MODES says, and no entry outside the list exists.
// The store (ardesia.db and its -wal, -shm) and every file holding a secret are owner-only.
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import type { VmStatus } from '../../src/contract/vm.js';
import { TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';

/** Path (relative to the data folder, as a regex) → mode. Add a row with each new kind of file. */
const MODES: Array<[RegExp, number, string]> = [
  [/^$/, 0o711, 'the data folder: owners reach their token file by name, nothing is listed'],
  [/^ardesia\.db(-wal|-shm)?$/, 0o600, 'the store: password hashes, sessions, token hashes'],
  [/^ardesia\.sock$/, 0o600, 'the API socket (root; 0660 only with --socket-group)'],
  [/^ardesia\.lock$/, 0o600, 'the data-folder lock'],
  [/^root\.token$/, 0o600, "root's API token"],
  [/^tokens$/, 0o711, 'owner tokens: each reaches only its own file'],
  [/^tokens\/[^/]+\.token$/, 0o400, 'an owner token, owned by that account'],
  [/^owners$/, 0o711, "VM owners' own folders: each reaches only its own by name"],
  [/^owners\/[^/]+$/, 0o700, "a VM owner's folder, owned by that account (their VMs' files)"],
  [/^runtime$/, 0o710, "runtime folders: only QEMU's account (its group) may pass through, to its own VM folders"],
  [/^runtime\/[^/]+$/, 0o700, "a VM's sockets and pid"],
  [/^runtime\/[^/]+\/(qmp|qmp-fd|serial|vnc|guest)\.sock$/, 0o700, "QEMU's sockets, made by QEMU (the account) under the daemon's umask, in its 0700 folder"],
  [/^runtime\/[^/]+\/qemu\.pid$/, 0o600, "the VM's QEMU pid"],
  [/^runtime\/[^/]+\/sercon-port$/, 0o600, "SeaBIOS's serial-console port (fw_cfg)"],
  [/^logs$/, 0o700, 'log folders'],
  [/^logs\/[^/]+$/, 0o700, "a VM's logs"],
  [/^logs\/[^/]+\/[^/]+$/, 0o600, 'console.log (what the guest printed), qemu.log'],
];

const g = guestArtifacts();
let daemon: TestDaemon;
let confDir: string;

before(async () => {
  confDir = mkdtempSync(join(tmpdir(), 'sec-modes-'));
  daemon = await TestDaemon.start({ extraArgs: ['--listen', '127.0.0.1:0'] });
});
after(async () => {
  await daemon?.destroy();
  rmSync(confDir, { recursive: true, force: true });
});

function walk(root: string, dir = root, out: Array<{ path: string; mode: number }> = []): Array<{ path: string; mode: number }> {
  out.push({ path: relative(root, dir), mode: lstatSync(dir).mode & 0o7777 });
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(root, path, out);
    else out.push({ path: relative(root, path), mode: lstatSync(path).mode & 0o7777 });
  }
  return out;
}

test('after a daemon run with a VM, an owner token and a web user, every entry of the data folder has its listed mode', async () => {
  const conf = join(confDir, 'vm.conf');
  writeFileSync(conf, `vm "modes" {\n memory 64M\n boot "${g.amd64.kernel}"\n owner nobody\n}\n`);
  const loaded = await daemon.cli(['vm', 'load', conf]); // a defined VM without `disable` starts at load
  assert.equal(loaded.code, 0, loaded.stderr);
  await until('the VM running', async () => (await daemon.api().request<VmStatus>('GET', '/v1/vms/modes')).state === 'running', 60_000);
  const user = await daemon.cli(['user', 'add', 'alice', '--password-stdin'], { input: 'correct horse battery\n' });
  assert.equal(user.code, 0, user.stderr);

  const wrong: string[] = [];
  for (const { path, mode } of walk(daemon.dataDir)) {
    const row = MODES.find(([re]) => re.test(path));
    if (!row) wrong.push(`${path || '.'} (${mode.toString(8)}): not in the list — add it with the mode it must have`);
    else if (row[1] !== mode) wrong.push(`${path || '.'} is ${mode.toString(8)}, must be ${row[1].toString(8)} (${row[2]})`);
  }
  assert.deepEqual(wrong, []);
  for (const name of ['ardesia.db', 'ardesia.db-wal', 'ardesia.db-shm']) assert.ok(walk(daemon.dataDir).some((e) => e.path === name), `${name} exists (the store runs in WAL mode)`);
});
