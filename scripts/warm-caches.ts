// Started by run-tests.mjs beside the test files of a full run: builds the cold Debian trees the longest files need
// (the thin-client OS for i386 and amd64, the desktop image) into the caches those files use, so that they find them
// built instead of building them in their own slot. The tests build through the same functions and the same cache
// locks: a file that comes first waits on the lock, then finds the cache warm. Nothing here is a test.
//   node dist/scripts/warm-caches.js [desktop] [thinclient-i386] [thinclient-amd64]   (all without names; run-tests.mjs
//   starts it with the ones its files need, at a low CPU priority)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDebianTree } from '../src/images/build/debian.js';
import { buildThinClientOs } from '../src/thinclients/os/build.js';

const REPO_ROOT = process.env.ARDESIA_REPO_ROOT ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The trees: all three build at once (each under its own lock), at the priority run-tests.mjs gave this process. */
const TREES = {
  // The tree only: each file that needs the image writes its own from it (desktop-image, the daemons' image builds).
  desktop: { what: 'Debian desktop tree', build: () => buildDebianTree({ workDir: join(REPO_ROOT, '.cache', 'images') }) },
  'thinclient-i386': { what: 'thin-client OS (i386)', build: (out: string) => buildThinClientOs({ arch: 'i386', outDir: out, cacheDir: join(REPO_ROOT, '.cache', 'thinclient') }) },
  'thinclient-amd64': { what: 'thin-client OS (amd64)', build: (out: string) => buildThinClientOs({ arch: 'amd64', outDir: out, cacheDir: join(REPO_ROOT, '.cache', 'thinclient') }) },
} as const;
type TreeName = keyof typeof TREES;

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(name in TREES));
if (unknown.length > 0) {
  console.error(`warm-caches: no tree named ${unknown.join(', ')}; the trees are ${Object.keys(TREES).join(', ')}`);
  process.exit(2);
}
const WARMED = (Object.keys(TREES) as TreeName[]).filter((name) => wanted.length === 0 || wanted.includes(name)).map((name) => TREES[name]);

const results = await Promise.all(WARMED.map(async ({ what, build }) => {
  const out = mkdtempSync(join(tmpdir(), 'ard-warm-'));
  const started = Date.now();
  try {
    await build(out);
    console.log(`caches: ${what} ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return true;
  } catch (err) {
    // The test that needs it builds it again and fails with the reason in its own report.
    console.log(`caches: ${what} failed after ${((Date.now() - started) / 1000).toFixed(0)} s: ${(err as Error).message}`);
    return false;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}));
process.exitCode = results.every(Boolean) ? 0 : 1;
