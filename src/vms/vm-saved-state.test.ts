import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { ArdesiaError } from '../contract/errors.js';
import { savedStateHeader, savedStateHeaderParse, type SavedStateManifest, stateSeal, stateSealValid } from '../hypervisor/saved-state/manifest.js';
import { savedStateResealed } from './vm-saved-state.js';

const MANIFEST: SavedStateManifest = {
  format: 1,
  vm: 'v1',
  savedAt: '2026-12-08T01:00:00Z',
  qemuVersion: '7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)',
  machine: 'q35',
  memoryMiB: 160,
  vcpus: 1,
  accel: 'tcg',
  launchSha256: 'a'.repeat(64),
  disks: [{ index: 0, path: '/d/v1.qcow2', writable: true, sizeBytes: 196_608, sha256: 'b'.repeat(64) }],
  state: { bytes: 4096, sha256: 'c'.repeat(64) },
};

/** The bytes through the transform, fed `chunk` bytes at a time. */
async function through(input: Buffer, key: Buffer, chunk: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunk) parts.push(input.subarray(i, i + chunk));
  const out: Buffer[] = [];
  for await (const b of Readable.from(parts).pipe(savedStateResealed(key, 'v1'))) out.push(b as Buffer);
  return Buffer.concat(out);
}

test("a state relayed from an agent's host leaves with the site's seal in place of that host's, its stream byte for byte, however it is split", async () => {
  const hostKey = randomBytes(32);
  const siteKey = randomBytes(32);
  const body = randomBytes(4096);
  const input = Buffer.concat([savedStateHeader({ ...MANIFEST, seal: stateSeal(MANIFEST, hostKey) }), body]);
  for (const chunk of [1, 7, 100, input.length]) {
    const out = await through(input, siteKey, chunk);
    const parsed = savedStateHeaderParse(out);
    assert.equal(parsed.kind, 'header', `split every ${chunk}`);
    if (parsed.kind !== 'header') return;
    assert.ok(stateSealValid(parsed.manifest, siteKey), "the site's seal");
    assert.ok(!stateSealValid(parsed.manifest, hostKey), "the host's seal is gone");
    assert.deepEqual({ ...parsed.manifest, seal: undefined }, { ...MANIFEST, seal: undefined });
    assert.ok(out.subarray(parsed.length).equals(body), 'the stream unchanged');
  }
});

test('a relayed stream that is no state, or ends inside its header, fails with VM_STATE_INVALID', async () => {
  const key = randomBytes(32);
  const isInvalid = (pattern: RegExp) => (err: unknown) => err instanceof ArdesiaError && err.code === 'VM_STATE_INVALID' && pattern.test(err.message);
  await assert.rejects(through(Buffer.from('GIF89a not a state at all\n{}\n'), key, 5), isInvalid(/is no VM state/));
  await assert.rejects(through(savedStateHeader(MANIFEST).subarray(0, 40), key, 3), isInvalid(/ends inside its header/));
});
