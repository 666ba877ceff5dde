// A VM owner or administrator racing an import: the file is checked, then swapped under its name for
// one whose backing file is a host file. The import must convert what it checked (or refuse), never
// the swapped file: the daemon opens the source once and checks and converts through that descriptor.
// The daemon pauses between check and convert (failpoint import-after-check), so the swap is certain.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TestDaemon, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';

const g = guestArtifacts();
let daemon: TestDaemon;
let dir: string;
let failpoints: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sec-swap-'));
  failpoints = join(dir, 'failpoints');
  mkdirSync(failpoints);
  daemon = await TestDaemon.start({ env: { ARDESIA_FAILPOINTS: 'import-after-check', ARDESIA_FAILPOINT_DIR: failpoints } });
});
after(async () => {
  await daemon?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const pattern = (word: string) => Buffer.alloc(1 << 20, `${word} `);
const img = (...args: string[]) => execFileSync('qemu-img', args, { stdio: ['ignore', 'pipe', 'pipe'] });

test('a source swapped after the check for a qcow2 backed by a host file: the checked content is imported, the host file is not', async () => {
  writeFileSync(join(dir, 'good.raw'), pattern('GOOD'));
  img('convert', '-q', '-f', 'raw', '-O', 'qcow2', join(dir, 'good.raw'), join(dir, 'disk.qcow2'));
  img('convert', '-q', '-f', 'raw', '-O', 'qcow2', join(dir, 'good.raw'), join(dir, 'reference.qcow2'));
  writeFileSync(join(dir, 'host-secret.raw'), pattern('SECRET'));
  img('create', '-q', '-f', 'qcow2', '-b', join(dir, 'host-secret.raw'), '-F', 'raw', join(dir, 'evil.qcow2'), '1M');

  const importing = daemon.cli(['image', 'create', 'swapped', '--from', join(dir, 'disk.qcow2'), '--kernel', g.amd64.kernel], { timeoutMs: 180_000 });
  await until('the import checked its source', () => existsSync(join(failpoints, 'import-after-check.reached')), 60_000);
  renameSync(join(dir, 'evil.qcow2'), join(dir, 'disk.qcow2')); // the swap: the name now holds the hostile file
  writeFileSync(join(failpoints, 'import-after-check.continue'), '');
  const r = await importing;

  const imported = join(daemon.dataDir, 'images', 'swapped', '1.qcow2');
  if (r.code !== 0) {
    assert.ok(!existsSync(imported), `refused, and nothing left behind: ${r.stderr}`);
    return;
  }
  const raw = join(dir, 'imported.raw');
  img('convert', '-q', '-O', 'raw', imported, raw);
  const bytes = execFileSync('head', ['-c', '64', raw]).toString();
  assert.doesNotMatch(bytes, /SECRET/, 'the host file behind the swapped qcow2 was imported');
  assert.match(bytes, /^GOOD /);
  img('compare', '-q', join(dir, 'reference.qcow2'), imported); // throws when the contents differ
});
