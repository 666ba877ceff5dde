import assert from 'node:assert/strict';
import { test } from 'node:test';
import { passwordGenerate, passwordHash, passwordProblem, passwordVerify } from './passwords.js';

test('password policy', () => {
  const cases: Array<[string, string, RegExp | undefined]> = [
    ['short', 'alice', /at least 10/],
    ['x'.repeat(257), 'alice', /at most 256/],
    ['alice-2024-summer', 'alice', /user name/],
    ['ALICEwonder!!', 'alice', /user name/],
    ['aaaaaaaaaaaa', 'bob', /4 different/],
    ['abababababab', 'bob', /4 different/],
    ['correct horse battery', 'alice', undefined],
    ['0123456789', 'bob', undefined],
  ];
  for (const [password, user, problem] of cases) {
    const got = passwordProblem(password, user);
    if (problem) assert.match(got ?? '', problem, password);
    else assert.equal(got, undefined, password);
  }
});

test('a generated password passes the policy and differs each time', () => {
  const a = passwordGenerate();
  assert.equal(passwordProblem(a, 'someone'), undefined);
  assert.notEqual(a, passwordGenerate());
});

test('argon2id hash verifies the password and nothing else', async () => {
  const hash = await passwordHash('correct horse battery');
  assert.match(hash, /^\$argon2id\$v=19\$m=19456,p=1,t=3\$/);
  assert.equal(await passwordVerify(hash, 'correct horse battery'), true);
  assert.equal(await passwordVerify(hash, 'correct horse batterY'), false);
  assert.equal(await passwordVerify('not a hash', 'x'), false);
});
