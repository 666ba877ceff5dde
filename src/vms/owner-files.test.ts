import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ArdesiaError } from '../contract/errors.js';
import { ownerPolicyLoad } from './owner-files.js';

const dir = mkdtempSync(join(tmpdir(), 'owner-policy-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the owner policy file: every problem listed at once, OWNER_POLICY_INVALID', () => {
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'users:\n  jdoe:\n    roots: [relative]\n    maxVms: -1\n    colour: blue\n');
  assert.throws(() => ownerPolicyLoad(file), (err: ArdesiaError) => {
    assert.equal(err.code, 'OWNER_POLICY_INVALID');
    for (const where of ['users.jdoe.roots.0', 'users.jdoe.maxVms', 'colour']) assert.ok(err.message.includes(where), `${where} in ${err.message}`);
    return true;
  });
  assert.throws(() => ownerPolicyLoad(join(dir, 'missing.json')), { code: 'OWNER_POLICY_INVALID' });
});

test('a root given through a symlink also counts as its real folder; no file means the built-in defaults', () => {
  const real = join(dir, 'real');
  mkdirSync(real);
  symlinkSync(real, join(dir, 'link'));
  const file = join(dir, 'policy.json');
  writeFileSync(file, JSON.stringify({ groups: { lab: { readOnlyRoots: [join(dir, 'link')] } } }));
  assert.deepEqual(ownerPolicyLoad(file).groups.lab!.readOnlyRoots, [join(dir, 'link'), real]);
  assert.deepEqual(ownerPolicyLoad(undefined), { defaults: {}, users: {}, groups: {} });
});
