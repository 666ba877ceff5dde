import assert from 'node:assert/strict';
import { test } from 'node:test';
import { qemuVersionText, launchFingerprint, type LaunchIdentity, machineOf, normalisedArgv, SAVED_STATE_MAGIC, savedStateHeader, savedStateHeaderParse, type SavedStateManifest, savedStateProblems, stateSeal, stateSealValid } from './manifest.js';

const ARGS = ['-name', 'guest=a1,debug-threads=on', '-S', '-pidfile', '/d/runtime/a1/qemu.pid', '-machine', 'q35,accel=tcg', '-m', '256M', '-spice', 'addr=127.0.0.1,port=5931,disable-ticketing=on', '-device', 'virtio-blk-pci,drive=disk0'];
const launch = (args: string[], vm = 'a1', runtimeDir = '/d/runtime/a1') => ({ binary: '/usr/bin/qemu-system-x86_64', args, vm, runtimeDir });

test('the launch fingerprint ignores name, runtime folder, SPICE port and -incoming, and nothing else', () => {
  const base = launchFingerprint(launch(ARGS));
  const CASES: Array<[string, string[], string, string, boolean]> = [
    ['identical', ARGS, 'a1', '/d/runtime/a1', true],
    ['with -incoming defer', [...ARGS.slice(0, 3), '-incoming', 'defer', ...ARGS.slice(3)], 'a1', '/d/runtime/a1', true],
    ['another name and folder', ARGS.map((a) => a.replace(/a1/g, 'b2')), 'b2', '/d/runtime/b2', true],
    ['another SPICE port', ARGS.map((a) => a.replace('5931', '5999')), 'a1', '/d/runtime/a1', true],
    ['more memory', ARGS.map((a) => (a === '256M' ? '512M' : a)), 'a1', '/d/runtime/a1', false],
    ['another machine', ARGS.map((a) => a.replace('q35', 'pc')), 'a1', '/d/runtime/a1', false],
    ['a device more', [...ARGS, '-device', 'vmgenid'], 'a1', '/d/runtime/a1', false],
    ['devices reordered', [...ARGS.slice(0, -2), '-device', 'vmgenid', '-device', 'virtio-blk-pci,drive=disk0'], 'a1', '/d/runtime/a1', false],
  ];
  for (const [what, args, vm, dir, equal] of CASES) {
    assert.equal(launchFingerprint(launch(args, vm, dir)) === base, equal, what);
  }
  assert.deepEqual(normalisedArgv(launch(ARGS)).slice(0, 3), ['qemu-system-x86_64', '-name', 'guest=<vm>,debug-threads=on']);
});

test('the running QEMU\'s version reads as the host check prints the binary\'s', () => {
  assert.equal(qemuVersionText({ qemu: { major: 7, minor: 2, micro: 22 }, package: 'Debian 1:7.2+dfsg-7+deb12u18+b3' }), '7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)');
  assert.equal(qemuVersionText({ qemu: { major: 8, minor: 0, micro: 0 }, package: '' }), '8.0.0');
});

test('machineOf reads the machine type', () => {
  assert.equal(machineOf(ARGS), 'q35');
  assert.equal(machineOf(['-machine', 'pc']), 'pc');
  assert.equal(machineOf(['-m', '1G']), 'unknown');
});

const NOW: LaunchIdentity = {
  qemuVersion: '7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)', machine: 'q35', memoryMiB: 256, vcpus: 1, accel: 'tcg', launchSha256: 'a'.repeat(64),
  disks: [{ index: 0, path: '/d/g1.qcow2', writable: true, sizeBytes: 196_608, sha256: 'b'.repeat(64) }, { index: 1, path: '/d/ro.iso', writable: false, sizeBytes: 1024, mtimeMs: 5 }],
};
const SAVED: SavedStateManifest = { format: 1, vm: 'g1', savedAt: '2026-12-04T15:00:00Z', ...NOW, state: { bytes: 10, sha256: 'c'.repeat(64) } };

test('a saved state matches only an identical launch with the disks as they were', () => {
  const CASES: Array<[string, Partial<LaunchIdentity>, RegExp | undefined]> = [
    ['identical', {}, undefined],
    ['QEMU upgraded', { qemuVersion: '8.0.0' }, /QEMU version was 7\.2\.22.*, is 8\.0\.0/],
    ['machine type', { machine: 'pc' }, /machine type was q35, is pc/],
    ['memory', { memoryMiB: 512 }, /memory \(MiB\) was 256, is 512/],
    ['vCPUs', { vcpus: 2 }, /vCPUs was 1, is 2/],
    ['accelerator', { accel: 'kvm' }, /accelerator was tcg, is kvm/],
    ['devices', { launchSha256: 'd'.repeat(64) }, /devices or their options differ/],
    ['overlay written since', { disks: [{ ...NOW.disks[0]!, sha256: 'e'.repeat(64) }, NOW.disks[1]!] }, /disk 0 \(\/d\/g1\.qcow2\) changed/],
    ['read-only disk replaced', { disks: [NOW.disks[0]!, { ...NOW.disks[1]!, mtimeMs: 6 }] }, /disk 1 .* changed/],
    ['a disk fewer', { disks: [NOW.disks[0]!] }, /had 2 disk\(s\), has 1/],
    ['a disk made read-only', { disks: [{ ...NOW.disks[0]!, writable: false }, NOW.disks[1]!] }, /disk 0 was writable/],
  ];
  for (const [what, change, expect] of CASES) {
    const problems = savedStateProblems(SAVED, { ...NOW, ...change });
    if (expect === undefined) assert.deepEqual(problems, [], what);
    else assert.match(problems.join('; '), expect, what);
  }
  assert.equal(savedStateProblems(SAVED, { ...NOW, memoryMiB: 1, vcpus: 4 }).length, 2, 'every difference is listed');
});

test('the wire header: written, read back whole or byte by byte, and refused when it is not one', () => {
  const header = savedStateHeader(SAVED);
  const whole = savedStateHeaderParse(Buffer.concat([header, Buffer.from('QEVM-stream')]));
  assert.equal(whole.kind, 'header');
  assert.ok(whole.kind === 'header' && whole.length === header.length && whole.manifest.state.sha256 === SAVED.state.sha256);
  for (let n = 0; n < header.length; n++) assert.equal(savedStateHeaderParse(header.subarray(0, n)).kind, 'more', `${n} bytes`);
  const CASES: Array<[string, Buffer, RegExp]> = [
    ['a raw QEMU stream', Buffer.from('QEVM\x00\x00\x00\x03'), /does not start as an Ardesia VM state/],
    ['a broken manifest', Buffer.from(`${SAVED_STATE_MAGIC}\n{"format":1,\n`), /not JSON/],
    ['a manifest of another shape', Buffer.from(`${SAVED_STATE_MAGIC}\n${JSON.stringify({ ...SAVED, memoryMiB: 'lots' })}\n`), /memoryMiB/],
    ['an endless first line', Buffer.concat([Buffer.from(`${SAVED_STATE_MAGIC}\n`), Buffer.alloc(70_000, 0x20)]), /too long/],
  ];
  for (const [what, bytes, expect] of CASES) {
    const r = savedStateHeaderParse(bytes);
    assert.ok(r.kind === 'invalid' && expect.test(r.problem), `${what}: ${JSON.stringify(r)}`);
  }
});

test('the seal: valid only with the site\'s key over every field as written, whatever the key order', () => {
  const key = Buffer.alloc(32, 7);
  const sealed: SavedStateManifest = { ...SAVED, seal: stateSeal(SAVED, key) };
  assert.ok(stateSealValid(sealed, key));
  // The same manifest read back from the wire with its keys in another order.
  const reordered = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(sealed).reverse()))) as SavedStateManifest;
  assert.ok(stateSealValid(reordered, key));
  const CASES: Array<[string, SavedStateManifest, Buffer]> = [
    ['no seal', SAVED, key],
    ['another site\'s key', sealed, Buffer.alloc(32, 8)],
    ['the stream\'s sha256 changed', { ...sealed, state: { ...sealed.state, sha256: 'd'.repeat(64) } }, key],
    ['the memory changed', { ...sealed, memoryMiB: 512 }, key],
    ['a disk\'s identity changed', { ...sealed, disks: sealed.disks.map((d) => ({ ...d, path: '/elsewhere' })) }, key],
    ['the seal cut short', { ...sealed, seal: sealed.seal!.slice(0, 62) + '00' }, key],
  ];
  for (const [what, manifest, k] of CASES) assert.equal(stateSealValid(manifest, k), false, what);
});
