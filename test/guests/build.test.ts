// The guest cache as other tests see it: a re-run is a cache hit, and the manifest's files are
// what the brief promises (sizes, formats, the Debian versions they came from).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { guestArtifacts } from '../helpers/guests.js';

const REPO_ROOT = process.env.ARDESIA_REPO_ROOT ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const MAX_INITRD_BYTES = 8 * 1024 * 1024;
const MAX_ROOT_VIRTUAL_BYTES = 64 * 1024 * 1024;

interface Manifest {
  key: string;
  packages: Array<{ arch: string; name: string; version: string }>;
}

describe('guest builder cache', () => {
  it('a second run finds everything cached and names the folder of the newest manifest', () => {
    const out = execFileSync(process.execPath, [join(REPO_ROOT, 'dist', 'scripts', 'guests', 'build.js')], { encoding: 'utf8' });
    assert.match(out, /^guests: cached /m);
    const guests = guestArtifacts();
    assert.ok(out.includes(guests.dir.slice(REPO_ROOT.length + 1)), `${out} should name ${guests.dir}`);
  });

  it('keeps guests small and the root disk a qcow2 of at most 64 MiB', () => {
    const guests = guestArtifacts();
    for (const initrd of [guests.amd64.initrd, guests.i386.initrd]) assert.ok(statSync(initrd).size < MAX_INITRD_BYTES, initrd);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output', 'json', guests.amd64.rootQcow2], { encoding: 'utf8' })) as { format: string; 'virtual-size': number };
    assert.equal(info.format, 'qcow2');
    assert.ok(info['virtual-size'] <= MAX_ROOT_VIRTUAL_BYTES);
    assert.deepEqual([...readFileSync(guests.amd64.initrd).subarray(0, 2)], [0x1f, 0x8b], 'initrd is gzip');
  });

  it('records the exact versions of the .debs it was built from', () => {
    const guests = guestArtifacts();
    const manifest = JSON.parse(readFileSync(join(guests.dir, 'manifest.json'), 'utf8')) as Manifest;
    assert.ok(manifest.packages.some((p) => p.arch === 'amd64' && /^linux-image-6\.1\.\S+-cloud-amd64$/.test(p.name)));
    assert.ok(manifest.packages.some((p) => p.arch === 'i386' && /^linux-image-\S+-686$/.test(p.name)));
    for (const pin of manifest.packages) {
      const debsDir = join(REPO_ROOT, '.cache', 'guests', 'debs', pin.arch);
      const deb = readdirSync(debsDir).find((f) => f.startsWith(`${pin.name}_${pin.version.replace(/:/g, '%3a')}_`));
      assert.ok(deb, `${pin.arch} ${pin.name} ${pin.version} .deb is in the cache`);
      assert.equal(execFileSync('dpkg-deb', ['-f', join(debsDir, deb), 'Version'], { encoding: 'utf8' }).trim(), pin.version);
    }
  });
});
