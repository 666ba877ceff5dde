// Attacker: a guest that broke out into its clone's QEMU after the daemon restarted. The daemon then holds a restore
// template's RAM again from a running clone's QEMU rather than loading ram.bin a second time (ram-adopt.ts); a QEMU
// that swapped its memfd for one of its own must not get its memory mapped into every desktop restored next.
// Defences: only a memfd sealed against writes is taken (its bytes can change no more), and only when its bytes hash
// to the template's sha256. The "QEMUs" here are native/ram-hold itself started under the name qemu-system-x86_64 (the
// name the daemon looks for), each holding a memfd such as a clone's QEMU maps.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { templateMemfds, templateRamHold } from '../../src/hypervisor/saved-state/ram-adopt.js';
import { RAM_HOLD_PATH } from '../../src/hypervisor/saved-state/shared-ram.js';

// A size no test guest's template has (theirs are 128 MiB and more): only this file's memfds are of it.
const BYTES = 3 * 1024 * 1024;
let dir: string;
let qemuNamed: string;
let ramFile: string;
let sha256: string;
const running: ChildProcess[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'ard-ram-adopt-'));
  qemuNamed = join(dir, 'qemu-system-x86_64');
  copyFileSync(RAM_HOLD_PATH, qemuNamed);
  const ram = Buffer.alloc(BYTES);
  ram.write('the template RAM', 1024 * 1024);
  ramFile = join(dir, 'ram.bin');
  writeFileSync(ramFile, ram);
  sha256 = createHash('sha256').update(ram).digest('hex');
});

after(() => {
  for (const child of running) child.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** A process named qemu-system-x86_64 holding a memfd as ram-hold makes it; resolves once it holds it. */
async function fakeQemu(args: string[]): Promise<{ pid: number; memfd: string }> {
  const child = spawn(qemuNamed, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  running.push(child);
  const line = await new Promise<string>((resolve) => child.stdout!.once('data', (b: Buffer) => resolve(b.toString())));
  const fd = /^fd (\d+)/.exec(line)?.[1];
  assert.ok(fd, `the stand-in holds its memfd: ${line}`);
  return { pid: child.pid!, memfd: `/proc/${child.pid}/fd/${fd}` };
}

const inodeOf = (path: string) => statSync(path).ino;

test("a memfd a QEMU holds unsealed, though its bytes are the template's, is not taken: ram.bin is loaded", async () => {
  const zeros = join(dir, 'zeros.bin');
  writeFileSync(zeros, Buffer.alloc(BYTES));
  const unsealed = await fakeQemu(['new', String(BYTES)]); // all zeros, as zeros.bin
  const zerosSha = createHash('sha256').update(Buffer.alloc(BYTES)).digest('hex');
  assert.ok((await templateMemfds(BYTES)).some((c) => c.pid === unsealed.pid), 'the finder sees it');
  const { hold, adoptedFrom } = await templateRamHold(zeros, { bytes: BYTES, sha256: zerosSha });
  try {
    assert.equal(adoptedFrom, undefined);
    assert.notEqual(inodeOf(hold.procPath), inodeOf(unsealed.memfd));
    assert.equal(await hold.sha256(), zerosSha);
  } finally {
    hold.close();
  }
});

test("a sealed memfd whose bytes are not the template's is not taken: ram.bin is loaded", async () => {
  const other = join(dir, 'other.bin');
  writeFileSync(other, Buffer.alloc(BYTES, 0x41));
  const forged = await fakeQemu(['load', other]);
  const { hold, adoptedFrom } = await templateRamHold(ramFile, { bytes: BYTES, sha256 });
  try {
    assert.equal(adoptedFrom, undefined);
    assert.notEqual(inodeOf(hold.procPath), inodeOf(forged.memfd));
    assert.equal(await hold.sha256(), sha256, "the hold has the template's bytes");
  } finally {
    hold.close();
  }
});

test("a running clone's sealed memfd with the template's bytes is held again, not loaded a second time", async () => {
  const clone = await fakeQemu(['load', ramFile]);
  const { hold, adoptedFrom } = await templateRamHold(ramFile, { bytes: BYTES, sha256 });
  try {
    assert.equal(adoptedFrom, clone.pid);
    assert.equal(inodeOf(hold.procPath), inodeOf(clone.memfd), 'the same memfd');
  } finally {
    hold.close();
  }
});
