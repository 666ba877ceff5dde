import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sharedRamRole, withSharedRam, withoutSharedRam } from './shared-ram.js';
import { type CloneIdentity, TEMPLATE_FORMAT, type TemplateManifest, templateCloneProblems, templateDevicesArgv, templateDevicesFingerprint, templateKey, type TemplateKeyParts } from './template.js';

const SHA = 'a'.repeat(64);
const launch = (vm: string, runtimeDir: string, blockdevs: string[], extra: string[] = []) => ({
  binary: '/usr/bin/qemu-system-x86_64',
  vm,
  runtimeDir,
  args: ['-name', `guest=${vm}`, '-machine', 'q35', '-m', '192', '-add-fd', 'fd=3,set=1', ...blockdevs, '-device', 'virtio-blk-pci,drive=disk0', '-chardev', `socket,id=g,path=${runtimeDir}/guest.sock`, ...extra],
});

test('a clone\'s launch has the template\'s devices fingerprint although its block graph is one level deeper', () => {
  const template = launch('template-1', '/d/runtime/template-1', ['-blockdev', 'node-name=disk0-b1,file.filename=/dev/fdset/1', '-blockdev', 'node-name=disk0,file.filename=/dev/fdset/2,backing=disk0-b1']);
  const clone = launch('pool-3', '/d/runtime/pool-3', ['-blockdev', 'node-name=disk0-b2,file.filename=/dev/fdset/1', '-blockdev', 'node-name=disk0-b1,file.filename=/dev/fdset/2,backing=disk0-b2', '-blockdev', 'node-name=disk0,file.filename=/dev/fdset/3,backing=disk0-b1']);
  assert.equal(templateDevicesFingerprint(clone), templateDevicesFingerprint(template));
  assert.ok(!templateDevicesArgv(clone).some((a) => a.includes('fdset/3')));
  // A device more (or other options) is another machine.
  assert.notEqual(templateDevicesFingerprint(launch('pool-3', '/d/runtime/pool-3', [], ['-device', 'vmgenid'])), templateDevicesFingerprint(template));
  assert.notEqual(templateDevicesFingerprint({ ...template, args: template.args.map((a) => (a === '192' ? '256' : a)) }), templateDevicesFingerprint(template));
});

test('the template key changes with every part it depends on', () => {
  const parts: TemplateKeyParts = { image: 'deb', version: 3, versionSha256: SHA, memoryMiB: 1024, vcpus: 1, devices: { nics: [] }, qemuVersion: '', accel: 'tcg' };
  const key = templateKey(parts);
  assert.match(key, /^[0-9a-f]{16}$/);
  assert.equal(templateKey({ ...parts }), key);
  const changes: Array<Partial<TemplateKeyParts>> = [{ image: 'deb2' }, { version: 4 }, { versionSha256: 'b'.repeat(64) }, { memoryMiB: 2048 }, { vcpus: 2 }, { devices: { nics: [{ mode: 'user' }] } }, { qemuVersion: '8.0.0' }, { accel: 'kvm' }];
  for (const change of changes) assert.notEqual(templateKey({ ...parts, ...change }), key, JSON.stringify(change));
});

test('a clone that differs from the template is refused with every difference', () => {
  const manifest: TemplateManifest = {
    format: TEMPLATE_FORMAT, key: '0123456789abcdef', image: 'deb', version: 1, savedAt: 't', qemuVersion: '7.2.22', machine: 'q35', memoryMiB: 192, vcpus: 1, accel: 'tcg',
    devicesSha256: SHA, overlay: { path: '/d/templates/k/1/system.qcow2', bytes: 1, sha256: SHA }, state: { bytes: 1, sha256: SHA }, ram: { bytes: 1, sha256: SHA }, bootMs: 1, saveMs: 1, kernelVmgenid: 'yes',
  };
  const same: CloneIdentity = { qemuVersion: '7.2.22', machine: 'q35', memoryMiB: 192, vcpus: 1, accel: 'tcg', devicesSha256: SHA, backing: manifest.overlay.path };
  assert.deepEqual(templateCloneProblems(manifest, same), []);
  const problems = templateCloneProblems(manifest, { qemuVersion: '8.0.0', machine: 'pc', memoryMiB: 256, vcpus: 2, accel: 'kvm', devicesSha256: 'b'.repeat(64), backing: '/d/images/deb/1.qcow2' });
  assert.equal(problems.length, 7);
  assert.match(problems.join('\n'), /QEMU version was 7\.2\.22, is 8\.0\.0/);
  assert.match(problems.join('\n'), /backed by \/d\/images\/deb\/1\.qcow2, not by the template's overlay/);
});

test('the template runs on its RAM shared and a clone privately, and both have one devices fingerprint', () => {
  const base = launch('template-1', '/d/runtime/template-1', []);
  const template = { ...base, args: withSharedRam(base.args, { memPath: '/proc/self/fd/7', memoryMiB: 192, share: true }) };
  const clone = { ...base, vm: 'pool-3', runtimeDir: '/d/runtime/pool-3', args: withSharedRam(launch('pool-3', '/d/runtime/pool-3', []).args, { memPath: '/proc/self/fd/9', memoryMiB: 192, share: false }) };
  assert.deepEqual(template.args.slice(2, 6), ['-object', 'memory-backend-file,id=ram0,size=192M,mem-path=/proc/self/fd/7,share=on', '-machine', 'q35,memory-backend=ram0']);
  assert.ok(clone.args.includes('memory-backend-file,id=ram0,size=192M,mem-path=/proc/self/fd/9,share=off'));
  assert.deepEqual(withoutSharedRam(template.args), base.args);
  assert.equal(templateDevicesFingerprint(clone), templateDevicesFingerprint(template));
  assert.equal(templateDevicesFingerprint(template), templateDevicesFingerprint(base));
  // A comma in the path is doubled (QEMU's option syntax), and a launch without -machine is a bug.
  assert.match(withSharedRam(base.args, { memPath: '/a,b', memoryMiB: 1, share: false })[3]!, /mem-path=\/a,,b,/);
  assert.throws(() => withSharedRam(['-m', '1'], { memPath: '/x', memoryMiB: 1, share: false }), /without -machine/);
});

test("a QEMU found again says by its argv whether it is a template being built, a template's clone, or neither", () => {
  const base = launch('pool-3', '/d/runtime/pool-3', []);
  assert.equal(sharedRamRole(withSharedRam(base.args, { memPath: '/proc/self/fd/7', memoryMiB: 192, share: true })), 'template');
  assert.equal(sharedRamRole(withSharedRam(base.args, { memPath: '/proc/self/fd/9', memoryMiB: 192, share: false })), 'clone');
  assert.equal(sharedRamRole(base.args), undefined);
  // Another memory backend (not the template's RAM) is neither.
  assert.equal(sharedRamRole(['-object', 'memory-backend-file,id=other,size=1M,mem-path=/x,share=on', ...base.args]), undefined);
});
