// Our own qcow2 overlay bytes against real qemu-img and a real QEMU guest.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chainDepth, createLinkedClone, qcow2OverlayBytes, freezeFile, resetLinkedClone, sha256File } from '../../src/storage/index.js';
import { QemuRun } from '../guests/qemu-run.js';
import { guestArtifacts } from '../helpers/guests.js';

const BOOT_TIMEOUT_MS = 90_000; // failure bounds only
const SHELL_TIMEOUT_MS = 30_000;

let dir: string;
const qemuImgJson = (...args: string[]): Record<string, unknown> => JSON.parse(execFileSync('qemu-img', [...args, '--output=json'], { encoding: 'utf8' })) as Record<string, unknown>;
const qemuImgCheckClean = (path: string): void => {
  const result = qemuImgJson('check', path);
  assert.equal(result['check-errors'], 0);
  assert.equal(result.corruptions ?? 0, 0);
  assert.equal(result.leaks ?? 0, 0);
};

before(() => {
  dir = mkdtempSync('/tmp/as-');
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('createLinkedClone', () => {
  it('writes overlays qemu-img reads and checks clean: absolute, relative, raw base, other cluster sizes', async () => {
    const base = join(dir, 'base.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', base, '3G']);
    const raw = join(dir, 'base.raw');
    writeFileSync(raw, Buffer.alloc(1 << 20, 7));
    await createLinkedClone({ base, overlay: join(dir, 'abs.qcow2') });
    await createLinkedClone({ base, overlay: join(dir, 'rel.qcow2'), relativeBacking: true });
    await createLinkedClone({ base: raw, overlay: join(dir, 'onraw.qcow2'), baseFormat: 'raw' });
    await createLinkedClone({ base, overlay: join(dir, 'big.qcow2'), virtualSize: 2 ** 40 });
    const abs = qemuImgJson('info', join(dir, 'abs.qcow2'));
    assert.equal(abs['backing-filename'], base);
    assert.equal(abs['backing-filename-format'], 'qcow2');
    assert.equal(abs['virtual-size'], 3 * 2 ** 30);
    assert.equal(qemuImgJson('info', join(dir, 'rel.qcow2'))['backing-filename'], 'base.qcow2');
    assert.equal(qemuImgJson('info', join(dir, 'onraw.qcow2'))['backing-filename-format'], 'raw');
    assert.equal(qemuImgJson('info', join(dir, 'big.qcow2'))['virtual-size'], 2 ** 40);
    for (const bits of [9, 12, 21]) {
      writeFileSync(join(dir, `c${bits}.qcow2`), qcow2OverlayBytes({ virtualSize: 5 * 2 ** 30, backingFile: base, backingFormat: 'qcow2', clusterBits: bits }));
      assert.equal(qemuImgJson('info', join(dir, `c${bits}.qcow2`))['cluster-size'], 2 ** bits);
    }
    for (const name of ['abs', 'rel', 'onraw', 'big', 'c9', 'c12', 'c21']) qemuImgCheckClean(join(dir, `${name}.qcow2`));
    assert.equal(statSync(join(dir, 'abs.qcow2')).mode & 0o777, 0o600);
    assert.equal(await chainDepth(join(dir, 'rel.qcow2')), 1);
    assert.equal(await chainDepth(base), 0);
    // the raw-backed overlay reads the base's bytes
    execFileSync('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', raw, join(dir, 'onraw.qcow2')]);
  });

  it('never overwrites and refuses a size smaller than the base', async () => {
    const base = join(dir, 'base.qcow2');
    await assert.rejects(createLinkedClone({ base, overlay: join(dir, 'abs.qcow2') }), { code: 'VM_EXISTS' });
    await assert.rejects(createLinkedClone({ base, overlay: join(dir, 'small.qcow2'), virtualSize: 2 ** 20 }), { code: 'VM_SPEC_INVALID' });
    await assert.rejects(createLinkedClone({ base: join(dir, 'nope.qcow2'), overlay: join(dir, 'x.qcow2') }), { code: 'VM_FILE_MISSING' });
  });

  it('resetLinkedClone replaces a written overlay by an empty one, keeping relative backing', async () => {
    const base = join(dir, 'base.qcow2');
    const overlay = join(dir, 'rel.qcow2');
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 0 1M', overlay]);
    assert.ok(statSync(overlay).blocks * 512 > 2 ** 20);
    await resetLinkedClone(overlay, base);
    const info = qemuImgJson('info', overlay);
    assert.equal(info['backing-filename'], 'base.qcow2');
    assert.ok(statSync(overlay).blocks * 512 < 2 ** 20);
    qemuImgCheckClean(overlay);
    const read = execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'read -P 0 0 1M', overlay], { encoding: 'utf8' });
    assert.match(read, /read 1048576\/1048576/);
  });
});

describe('a linked clone under QEMU', () => {
  let vm: QemuRun | undefined;
  after(async () => vm?.kill());

  it('boots the amd64 guest; its writes go to the overlay and the base is unchanged', async () => {
    const guests = guestArtifacts();
    const base = join(dir, 'gold.qcow2');
    copyFileSync(guests.amd64.rootQcow2, base);
    await freezeFile(base);
    const before = await sha256File(base);
    const overlay = join(dir, 'desk.qcow2');
    await createLinkedClone({ base, overlay, relativeBacking: true });
    const emptySize = statSync(overlay).blocks;
    vm = await QemuRun.start('qemu-system-x86_64', [
      '-accel', 'tcg', '-m', '192', '-kernel', guests.amd64.kernel, '-initrd', guests.amd64.initrd,
      '-append', 'console=ttyS0 root=/dev/vda rw quiet', '-drive', `file=${overlay},if=virtio,format=qcow2`,
    ], dir);
    await vm.waitForSerial(guests.amd64.banner, BOOT_TIMEOUT_MS);
    await vm.typeUntil('dd if=/dev/zero of=/written bs=1k count=256 2>/dev/null; sync; echo wrote-$((40+2))', 'wrote-42', SHELL_TIMEOUT_MS);
    await vm.kill();
    vm = undefined;
    assert.ok(statSync(overlay).blocks > emptySize, 'the guest wrote into the overlay');
    qemuImgCheckClean(overlay);
    assert.equal(await sha256File(base), before);
  });
});
