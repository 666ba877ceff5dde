// The hand-encoded probe (probe-image.ts) must be the very program in probe/probe.S:
// assemble the source with binutils and compare byte for byte. Needs `as` and `ld`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildProbeImage } from '../../src/hypervisor/host/probe-image.js';

const root = process.env.ARDESIA_REPO_ROOT ?? process.cwd();
const source = join(root, 'src', 'hypervisor', 'host', 'probe', 'probe.S');

function hasTool(name: string): boolean {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('buildProbeImage() equals probe.S assembled by as/ld', { skip: hasTool('as') && hasTool('ld') ? false : 'binutils (as, ld) not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ardasm-'));
  try {
    execFileSync('as', ['--32', '-o', join(dir, 'probe.o'), source]);
    execFileSync('ld', ['-m', 'elf_i386', '-Ttext=0x100000', '--oformat=binary', '-o', join(dir, 'probe.bin'), join(dir, 'probe.o')]);
    const assembled = readFileSync(join(dir, 'probe.bin'));
    const handEncoded = buildProbeImage();
    const firstDiff = [...assembled].findIndex((byte, i) => byte !== handEncoded[i]);
    assert.equal(handEncoded.length, assembled.length, 'same length');
    assert.equal(firstDiff, -1, `first differing byte at offset 0x${firstDiff.toString(16)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
