import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { passwdInRange, pickVmUid, processUid, supplementaryGids, vmAccount, vmUidRange } from './vm-uids.js';

const R = { base: 2_000_000_000, size: 65_536 };

describe('pickVmUid', () => {
  it('is the same for a name at every start, inside the range, and differs between names', () => {
    const a = pickVmUid('desk-1', R, new Set());
    assert.equal(pickVmUid('desk-1', R, new Set()), a);
    assert.ok(a >= R.base && a < R.base + R.size);
    assert.notEqual(pickVmUid('desk-2', R, new Set()), a);
  });
  it('takes the next free uid when a running VM holds it, wrapping at the end of the range', () => {
    const small = { base: 5000, size: 3 };
    const first = pickVmUid('x', small, new Set());
    const next = pickVmUid('x', small, new Set([first]));
    assert.equal(next, small.base + ((first - small.base + 1) % 3));
    assert.throws(() => pickVmUid('x', small, new Set([5000, 5001, 5002])), { code: 'VM_UIDS_EXHAUSTED' });
  });
});

describe('vmUidRange', () => {
  it('defaults far above ordinary accounts and refuses a base leaving no room', () => {
    assert.deepEqual(vmUidRange(), R);
    assert.throws(() => vmUidRange(0xffff_fff0), { code: 'BAD_REQUEST' });
    assert.throws(() => vmUidRange(10), { code: 'BAD_REQUEST' });
  });
});

describe('passwdInRange', () => {
  const passwd = 'root:x:0:0::/root:/bin/bash\nardesia-qemu:x:995:995::/nonexistent:/usr/sbin/nologin\nodd:x:2000000100:1::/:/bin/false\nbroken\n';
  it('names the entries inside the range', () => assert.deepEqual(passwdInRange(passwd, R), ['odd:2000000100']));
  it('is empty when nobody uses it', () => assert.deepEqual(passwdInRange(passwd, { base: 3_000_000_000, size: 65_536 }), []));
});

describe('supplementaryGids / vmAccount', () => {
  const group = 'root:x:0:\nkvm:x:993:ardesia-qemu\nardesia-qemu:x:995:\nvideo:x:44:alice,ardesia-qemu\nardesia-qemu-host:x:994:\n';
  it('lists the groups naming the account as a member', () => assert.deepEqual(supplementaryGids(group, 'ardesia-qemu'), [993, 44]));
  it("gives the VM's uid the account's primary group first, then its other groups, once each", () => {
    const acc = vmAccount({ name: 'ardesia-qemu', uid: 995, gid: 995 }, 2_000_000_009, [993, 995]);
    assert.deepEqual(acc, { name: 'ardesia-qemu (VM uid 2000000009)', uid: 2_000_000_009, gid: 995, groups: [995, 993] });
  });
});

describe('processUid', () => {
  it('reads the real uid', () => assert.equal(processUid('Name:\tqemu\nUid:\t2000000009\t2000000009\t2000000009\t2000000009\n'), 2_000_000_009));
  it('is undefined without it', () => assert.equal(processUid('Name:\tqemu\n'), undefined));
});
