// The archive reader against GNU tar's own archives, fed in chunks from 1 byte up: names, types and sha256 as
// sha256sum computes them, whatever the chunking; truncation and a damaged header are reported.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { tarMembers } from '../../src/ops/tar-read.js';

test('tarMembers reads GNU tar archives in any chunking', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ard-tar-'));
  try {
    const src = join(dir, 'src');
    mkdirSync(join(src, 'images', 'base'), { recursive: true });
    writeFileSync(join(src, 'SHA256SUMS'), 'x\n');
    writeFileSync(join(src, 'images', 'base', '1.qcow2'), Buffer.alloc(3 * 512 + 17, 7));
    writeFileSync(join(src, 'empty'), '');
    const archive = join(dir, 'a.tar');
    execFileSync('tar', ['--format=ustar', '-cf', archive, '-C', src, 'SHA256SUMS', 'images', 'empty']);
    const expected = new Map(['SHA256SUMS', 'images/base/1.qcow2', 'empty'].map((f) => [f, execFileSync('sha256sum', [join(src, f)], { encoding: 'utf8' }).slice(0, 64)]));
    for (const chunk of [1, 7, 511, 512, 513, 1 << 20]) {
      const members = await tarMembers(archive, (n) => n === 'SHA256SUMS', chunk);
      assert.deepEqual(members.map((m) => [m.name, m.type]), [['SHA256SUMS', '0'], ['images/', '5'], ['images/base/', '5'], ['images/base/1.qcow2', '0'], ['empty', '0']], `chunk ${chunk}`);
      for (const m of members.filter((x) => x.type === '0')) assert.equal(m.sha256, expected.get(m.name), `${m.name}, chunk ${chunk}`);
      assert.equal(members[0]!.contents?.toString(), 'x\n');
    }
    const whole = readFileSync(archive);
    writeFileSync(join(dir, 'cut.tar'), whole.subarray(0, 1024 + 700));
    await assert.rejects(tarMembers(join(dir, 'cut.tar'), undefined, 3), /truncated/);
    const bad = Buffer.from(whole);
    bad[10] = bad[10]! ^ 1;
    writeFileSync(join(dir, 'bad.tar'), bad);
    await assert.rejects(tarMembers(join(dir, 'bad.tar')), /checksum/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
