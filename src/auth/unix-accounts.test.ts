import assert from 'node:assert/strict';
import { test } from 'node:test';
import { accountFrom } from './unix-accounts.js';

const PASSWD = 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:100::/home/bob:/bin/sh\n';
const GROUP = 'root:x:0:\nusers:x:100:\nalice:x:1000:\nvmops:x:2000:alice,carol\n';

test('an account has its primary group and the groups that list it', () => {
  assert.deepEqual(accountFrom(PASSWD, GROUP, 'alice'), { name: 'alice', uid: 1000, gid: 1000, groups: ['alice', 'vmops'] });
  assert.deepEqual(accountFrom(PASSWD, GROUP, 'bob')?.groups, ['users']);
});

test('an unknown user has no account', () => {
  assert.equal(accountFrom(PASSWD, GROUP, 'mallory'), undefined);
});
