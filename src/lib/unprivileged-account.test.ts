import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePasswdEntry, runAsText } from './unprivileged-account.js';

test('parsePasswdEntry finds the account, its uid and primary gid', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/bash\nardesia-qemu:x:998:997::/nonexistent:/usr/sbin/nologin\n';
  const table: Array<[string, string, ReturnType<typeof parsePasswdEntry>]> = [
    [passwd, 'ardesia-qemu', { name: 'ardesia-qemu', uid: 998, gid: 997 }],
    [passwd, 'ardesia', undefined],
    ['ardesia-qemu:x:abc:1::/:/bin/false\n', 'ardesia-qemu', undefined],
    ['ardesia-qemu:x:5:6\n', 'ardesia-qemu', undefined],
    ['', 'ardesia-qemu', undefined],
  ];
  for (const [text, name, want] of table) assert.deepEqual(parsePasswdEntry(text, name), want);
});

test('runAsText is uid:gid', () => {
  assert.equal(runAsText({ name: 'a', uid: 998, gid: 997 }), '998:997');
});
