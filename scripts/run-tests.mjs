#!/usr/bin/env node
// Runs the test suite with node's built-in runner on the compiled tree (npm test builds first).
//   node scripts/run-tests.mjs            every test (unit + integration; builds guests, cached)
//   node scripts/run-tests.mjs --unit     pure unit tests only (seconds, no QEMU)
//   node scripts/run-tests.mjs --area qmp only test files whose path contains "qmp"
//   node scripts/run-tests.mjs --list     the files it would run, in the order it starts them
//   node scripts/run-tests.mjs dist/test/pools/restore.test.js …   only these compiled files (a path must match)
import { spawn, spawnSync } from 'node:child_process';
import { setPriority } from 'node:os';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const areaIndex = args.indexOf('--area');
const area = areaIndex >= 0 ? args[areaIndex + 1] : undefined;
// Paths named on the command line run alone: never the whole suite because a file was named.
const named = args.filter((a, i) => !a.startsWith('--') && !(areaIndex >= 0 && i === areaIndex + 1));

function findTests(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (entry.endsWith('.test.js')) out.push(path);
  }
  return out;
}

let files = [...findTests(join(root, 'dist', 'src')), ...findTests(join(root, 'dist', 'bench')), ...findTests(join(root, 'dist', 'scripts'))];
if (!unitOnly) files.push(...findTests(join(root, 'dist', 'test')));
if (area) files = files.filter((f) => relative(root, f).includes(area));
if (named.length > 0) {
  const wanted = new Set(named.map((n) => join(process.cwd(), n)));
  const missing = [...wanted].filter((w) => !files.includes(w));
  if (missing.length > 0) {
    console.error(`run-tests: no such compiled test file: ${missing.map((m) => relative(root, m)).join(', ')} (build first; name dist/…/X.test.js)`);
    process.exit(2);
  }
  files = files.filter((f) => wanted.has(f));
}

/** Which files build which of the Debian trees scripts/warm-caches.ts builds ahead (its names), longest first. */
const WARMED_FOR = {
  desktop: ['test/web/desktop-flow', 'test/image-build/desktop-image', 'test/pools/restore-debian'],
  'thinclient-i386': ['test/thinclient-os/netboot-login', 'test/thinclient-os/netboot-uefi-proxy'],
  'thinclient-amd64': ['test/thinclient-os/thinclient-boot', 'test/security/thinclient-impersonation', 'test/thinclient-os/'],
};
const inDist = (f, prefix) => relative(join(root, 'dist'), f).startsWith(prefix);
// The files start in four rounds, each longest first (longest-first keeps both slots busy to the end instead of
// leaving one long file alone at the tail): the long files that need no cold Debian tree; those that need the desktop
// image's; every other file; the thin-client OS's, last. warm-caches, started beside the first round, builds the trees
// meanwhile, so those files find them built (each is minutes of dpkg; the i386 one under qemu-user, tens of minutes).
const FIRST_ROUND = [
  'test/cluster/desktop-migration', 'test/cluster/agent-desktops', 'test/cluster/agent-vms', 'test/api/openapi-responses', 'test/images/lifecycle', 'test/pools/broker',
  'test/web/display-endings', 'test/chaos/chaos', 'test/chaos/cluster.test', 'test/pools/idle', 'test/web/admin-rollout', 'test/cluster/home-leases', 'test/package/deb-install',
  'test/security/guest-nat-host', 'test/pools/home-logoff', 'test/ops/backup-session', 'test/directory/active-directory', 'test/directory/openldap',
];
/** The rounds that name their files; every other file is in the third round, in name order. */
const NAMED_ROUNDS = [[0, FIRST_ROUND], [1, WARMED_FOR.desktop], [3, [...WARMED_FOR['thinclient-i386'], ...WARMED_FOR['thinclient-amd64']]]];
/** [round, place in it]: a file's first match. */
const rank = (f) => {
  for (const [round, prefixes] of NAMED_ROUNDS) {
    const place = prefixes.findIndex((prefix) => inDist(f, prefix));
    if (place >= 0) return [round, place];
  }
  return [2, 0];
};
files = files.map((f, i) => ({ f, i, r: rank(f) })).sort((a, b) => a.r[0] - b.r[0] || a.r[1] - b.r[1] || a.i - b.i).map(({ f }) => f);
if (args.includes('--list')) {
  for (const f of files) console.log(relative(root, f));
  process.exit(0);
}
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}

const needsGuests = files.some((f) => f.includes(`${join('dist', 'test')}`));
const guestBuilder = join(root, 'dist', 'scripts', 'guests', 'build.js');
if (needsGuests && existsSync(guestBuilder)) {
  const built = spawnSync(process.execPath, [guestBuilder], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

// A run of several files of which some need the cold trees builds those trees beside the files, at a low CPU priority:
// the build waits on the network and on qemu-user's process starts much of its time, which the slots' QEMUs fill.
const warmer = join(root, 'dist', 'scripts', 'warm-caches.js');
const trees = Object.entries(WARMED_FOR).filter(([, prefixes]) => files.some((f) => prefixes.some((p) => inDist(f, p)))).map(([tree]) => tree);
const warming = files.length > 1 && trees.length > 0 && existsSync(warmer)
  ? spawn(process.execPath, [warmer, ...trees], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ARDESIA_REPO_ROOT: root }, detached: true })
  : undefined;
if (warming?.pid) setPriority(warming.pid, 10);

// `node --test` would sort the files by name; run-test-files.mjs starts them in this order, two at a time.
const tests = spawn(process.execPath, ['--enable-source-maps', join(root, 'scripts', 'run-test-files.mjs'), ...files], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, ARDESIA_REPO_ROOT: root },
});
// Ctrl-C or a CI timeout: the warmer (a process group of its own) goes too, not left building.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    stopWarming();
    tests.kill(signal);
  });
}
const status = await new Promise((resolve) => tests.on('exit', (code) => resolve(code ?? 1)));
// The files that needed the trees have waited for them, so the warmer is done; one still running (a build of a tree no
// file here needed) is waited for: killed, mmdebstrap would leave its chroot's mounts behind in .cache.
if (warming && warming.exitCode === null) await new Promise((resolve) => warming.on('exit', resolve));
process.exit(status);

function stopWarming() {
  if (!warming?.pid || warming.exitCode !== null) return;
  try {
    process.kill(-warming.pid, 'SIGTERM');
  } catch {
    // already gone
  }
}
