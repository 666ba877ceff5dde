import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HandedFile } from './handed-files.js';
import { qemuCommand, qemuStartError } from './process.js';

const account = { name: 'ardesia-qemu', uid: 995, gid: 995 };
const disk: HandedFile = { path: '/d/a.qcow2', writable: false, fd: 3, set: 1 };
const tap = (fd: number, path: string): HandedFile => ({ path, writable: true, fd, tap: true });
const setpriv = ['setpriv', '--reuid', '995', '--regid', '995', '--init-groups', '--no-new-privs', '--'];

describe('qemuCommand: who opens the taps and who runs QEMU', () => {
  const cases: Array<{ name: string; handed: HandedFile[]; account?: { name: string; uid: number; gid: number; groups?: number[] }; expected: string[] }> = [
    { name: 'no taps, daemon not root: QEMU itself', handed: [disk], expected: ['qemu', '-S'] },
    { name: 'no taps, as the account: setpriv then QEMU', handed: [disk], account, expected: [...setpriv, 'qemu', '-S'] },
    {
      name: 'taps are attached by tap-open (as the daemon) before the privilege drop, at their handed numbers',
      handed: [disk, tap(4, 'ard-1-0'), tap(5, 'tap7')],
      account,
      expected: ['/x/tap-open', '4=ard-1-0', '5=tap7', '--', ...setpriv, 'qemu', '-S'],
    },
    {
      name: "a VM's own uid (no passwd entry): its groups are given, not looked up",
      handed: [disk],
      account: { name: 'vm', uid: 2_000_000_007, gid: 995, groups: [995, 993] },
      expected: ['setpriv', '--reuid', '2000000007', '--regid', '995', '--groups', '995,993', '--no-new-privs', '--', 'qemu', '-S'],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(qemuCommand('qemu', ['-S'], c.handed, c.account, '/x/tap-open'), c.expected));
  it('the sanlock registration runs after tap-open and before setpriv: every step execs, QEMU keeps the registered pid', () => {
    const register = ['/x/home-lease', 'register', '--'];
    assert.deepEqual(qemuCommand('qemu', ['-S'], [disk, tap(4, 'tap7')], account, '/x/tap-open', register), ['/x/tap-open', '4=tap7', '--', ...register, ...setpriv, 'qemu', '-S']);
    assert.deepEqual(qemuCommand('qemu', ['-S'], [disk], undefined, '/x/tap-open', register), [...register, 'qemu', '-S']);
  });
});

describe('qemuStartError: what QEMU (or its launch chain) printed before dying', () => {
  it('keeps every line and how the launch ended in the details (the last line is also the message)', () => {
    const err = qemuStartError('v', 'home-lease: acquiring refused by sanlock (-243)\nsanlock -243\n', 'exit code 3');
    assert.equal(err.code, 'VM_START_FAILED');
    assert.equal(err.message, 'vm v: QEMU did not start (exit code 3): sanlock -243');
    assert.deepEqual(err.details, { qemu: ['home-lease: acquiring refused by sanlock (-243)', 'sanlock -243'], exit: 'exit code 3' });
  });
  it('a failed incoming migration says the reason QEMU gave on the line before its generic one', () => {
    const log = "qemu-system-x86_64: Unknown savevm section or instance '0000:00:07.0/virtio-blk' 0. Make sure that your current VM setup matches your saved VM setup, including any hotplugged devices\nqemu-system-x86_64: load of migration failed: Invalid argument\n";
    assert.equal(qemuStartError('v', log, 'exit code 1').message,
      "vm v: QEMU did not start (exit code 1): qemu-system-x86_64: Unknown savevm section or instance '0000:00:07.0/virtio-blk' 0. Make sure that your current VM setup matches your saved VM setup, including any hotplugged devices; qemu-system-x86_64: load of migration failed: Invalid argument");
    assert.equal(qemuStartError('v', 'qemu-system-x86_64: load of migration failed: Input/output error\n', 'exit code 1').message,
      'vm v: QEMU did not start (exit code 1): qemu-system-x86_64: load of migration failed: Input/output error');
  });
});
