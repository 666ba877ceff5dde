import assert from 'node:assert/strict';
import { test } from 'node:test';
import { archiveProblems, type BackupManifest, memberProblem, sumsFormat, sumsParse } from './manifest.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);

const manifest: BackupManifest = {
  format: 'ardesia-backup', formatVersion: 1, createdAt: 'x', release: '0.1.0',
  store: { kind: 'sqlite', member: 'store/ardesia.db', migrations: ['0001_vms'] },
  images: [{ image: 'base', version: 1, sha256: B, member: 'images/base/1.qcow2', included: true }, { image: 'base', version: 2, sha256: C, member: 'images/base/2.qcow2', included: false }],
  homes: [{ user: 'alice', sizeBytes: 1, member: 'homes/alice/home.qcow2', included: true, sha256: C, inUseBy: null }],
  config: ['tls/ca.crt'],
};

test('SHA256SUMS round-trips and refuses malformed lines', () => {
  const sums = new Map([['store/ardesia.db', A], ['manifest.json', B]]);
  assert.equal(sumsFormat(sums), `${B}  manifest.json\n${A}  store/ardesia.db\n`);
  assert.deepEqual(sumsParse(sumsFormat(sums)), sums);
  assert.match(String(sumsParse(`${A} one-space\n`)), /line 1/);
  assert.match(String(sumsParse(`${A}  x\n${A}  x\n`)), /twice/);
});

test('memberProblem: only relative paths under the known top-level names', () => {
  const cases: Array<[string, boolean]> = [
    ['store/ardesia.db', true], ['images/base/1.qcow2', true], ['tls/', true], ['root.token', true],
    ['/etc/passwd', false], ['images/../../etc/passwd', false], ['etc/shadow', false], ['homes//x', false], ['./tls', false],
  ];
  for (const [m, ok] of cases) assert.equal(memberProblem(m) === undefined, ok, m);
});

test('archiveProblems lists every problem at once', () => {
  const listed = new Map([['manifest.json', A], ['store/ardesia.db', A], ['images/base/1.qcow2', B], ['homes/alice/home.qcow2', C]]);
  assert.deepEqual(archiveProblems(listed, new Map([...listed, ['SHA256SUMS', A]]), manifest), []);
  const actual = new Map([['manifest.json', A], ['store/ardesia.db', B], ['images/base/1.qcow2', B], ['extra', A]]);
  const problems = archiveProblems(listed, actual, manifest);
  assert.equal(problems.length, 4, problems.join('\n'));
  assert.match(problems.join('\n'), /store\/ardesia\.db: sha256/);
  assert.match(problems.join('\n'), /homes\/alice\/home\.qcow2 is listed .* but missing/);
  assert.match(problems.join('\n'), /extra is not listed/);
  assert.match(problems.join('\n'), /home of alice .* is missing/);
  // an image file whose sums agree with each other but not with the store's record
  const swapped = new Map([...listed, ['images/base/1.qcow2', C]]);
  assert.match(archiveProblems(swapped, swapped, manifest).join('\n'), /not the b+ the store recorded/);
});
