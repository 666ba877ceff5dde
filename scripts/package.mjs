#!/usr/bin/env node
// `npm run package`: builds dist/ardesia_VERSION-REVISION_ARCH.deb with dpkg-deb from the compiled tree (README
// "Installing from the package"). Node built-ins only. Reuses dist/, and caches the production node_modules
// (keyed by package-lock.json) and the native helpers (rebuilt when their sources change) under .cache/package/.
//   node scripts/package.mjs [--revision N] [--out DIR]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const packaging = join(root, 'packaging');
const cache = join(root, '.cache', 'package');
/** Where the program lives on the target; the compiled code finds the helpers at ../.cache/native from dist/. */
const LIB = 'usr/lib/ardesia';

/** The Debian packages Ardesia drives (scripts/setup.mjs's runtime subset; the test-only ones are not here). */
const DEPENDS = [
  // better-sqlite3's addon is built against Node 20's ABI (NODE_MODULE_VERSION 115): NodeSource's nodejs 20.x or Debian 13's.
  'nodejs (>= 20)', 'nodejs (<< 21)',
  'qemu-system-x86', 'qemu-utils', 'ovmf', 'seabios', 'ipxe-qemu', // VMs: QEMU, firmware, NIC boot ROMs
  'iproute2', 'nftables', // taps, MAC locks, the NAT guard
  'openssl', // the HTTPS and SPICE certificates (src/tls/certs.ts)
  'ipxe', // netboot's first files (undionly.kpxe, snponly.efi)
  'mmdebstrap', 'eatmydata', 'arch-test', 'e2fsprogs', // `image build`: mmdebstrap (eatmydata hook; arch-test for i386 trees) → mkfs.ext4 -d; debugfs
  'util-linux', 'adduser', 'init-system-helpers', // setpriv and flock; postinst's accounts; deb-systemd-helper
];
const RECOMMENDS = ['ovmf-ia32', 'squashfs-tools', 'cpio', 'busybox-static', 'iputils-arping']; // 32-bit UEFI guests; `thinclient build`; serve --service-address's ARP announcement
const SUGGESTS = ['postgresql-client']; // backups and upgrades of a PostgreSQL store (pg_dump, psql)
const NATIVE_HELPERS = ['display-relay', 'tftp-sender', 'qmp-add-fd', 'ra-responder', 'dhcp-port', 'tap-open'];
const CONFFILES = ['/etc/ardesia/ardesia.env', '/etc/ardesia/netboot.env'];

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

function fail(message) {
  console.error(`ardesia package: ${message}`);
  process.exit(1);
}

function newestMtime(paths) {
  return Math.max(...paths.map((p) => statSync(p).mtimeMs));
}

/** node-gyp's objects, static libraries and test addons, and better-sqlite3's bundled SQLite sources: not needed to run. */
const BUILD_LEFTOVERS = /\/build\/Release\/(obj|obj\.target|\.deps|test_extension\.node)$|\/build\/Release\/[^/]*\.a$|\/better-sqlite3\/deps$/;

/** The production node_modules: a copy of the installed tree pruned of devDependencies, made once per lock file. */
function productionModules() {
  const lock = readFileSync(join(root, 'package-lock.json'));
  const key = createHash('sha256').update(lock).update(readFileSync(join(root, 'package.json'))).digest('hex').slice(0, 16);
  const done = join(cache, `modules-${key}`);
  if (existsSync(join(done, 'node_modules', '.package-lock.json'))) return join(done, 'node_modules');
  if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) fail('node_modules is missing: run `npm ci` (or scripts/setup.mjs) first');
  console.log('ardesia package: pruning a copy of node_modules to the production dependencies (once per package-lock.json)');
  const work = `${done}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(root, f), join(work, f));
  // The real tree (node_modules may be a symlink), without the addons' build intermediates and sources.
  cpSync(realpathSync(join(root, 'node_modules')), join(work, 'node_modules'), { recursive: true, verbatimSymlinks: true, filter: (src) => !BUILD_LEFTOVERS.test(src) });
  // Offline: prune only deletes; --ignore-scripts since nothing is built here.
  execFileSync('npm', ['prune', '--omit=dev', '--no-audit', '--no-fund', '--ignore-scripts', '--offline'], { cwd: work, stdio: 'inherit' });
  for (const old of readdirSync(cache).filter((n) => n.startsWith('modules-') && join(cache, n) !== work)) rmSync(join(cache, old), { recursive: true, force: true });
  renameSync(work, done);
  return join(done, 'node_modules');
}

/** native/NAME.c compiled for this machine (the package's architecture) as scripts/setup.mjs does; rebuilt when a source is newer. */
function nativeHelpers() {
  const out = join(cache, 'native');
  mkdirSync(out, { recursive: true });
  const headers = readdirSync(join(root, 'native')).filter((f) => f.endsWith('.h')).map((f) => join(root, 'native', f));
  for (const name of NATIVE_HELPERS) {
    const source = join(root, 'native', `${name}.c`);
    const binary = join(out, name);
    if (existsSync(binary) && statSync(binary).mtimeMs >= newestMtime([source, ...headers])) continue;
    execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-o', binary, source], { stdio: 'inherit' });
  }
  return out;
}

/** Compiled code without tests, benchmarks or source maps (they point at .ts files the package does not carry). */
function copyDist(stage) {
  const keep = (src) => !/\.test\.js$|\.map$/.test(src);
  cpSync(join(root, 'dist', 'src'), join(stage, LIB, 'dist', 'src'), { recursive: true, filter: keep });
  cpSync(join(root, 'dist', 'web'), join(stage, LIB, 'dist', 'web'), { recursive: true, filter: keep });
}

function packageJson(version) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  // name and version: src/lib/release.ts reads them; type: bin/ardesia.js is ESM.
  return `${JSON.stringify({ name: pkg.name, version, type: pkg.type, license: pkg.license, private: true, dependencies: pkg.dependencies }, null, 2)}\n`;
}

function control(fields) {
  return `${Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('\n')}\n`;
}

function installedSizeKiB(dir) {
  return execFileSync('du', ['-sk', '--apparent-size', dir], { encoding: 'utf8' }).split('\t')[0];
}

function main() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const revision = arg('--revision', '1');
  if (!/^[0-9][A-Za-z0-9.+~]*$/.test(revision)) fail(`--revision ${revision}: a Debian revision starts with a digit (e.g. 1, 2, 1~rc1)`);
  const outDir = arg('--out', join(root, 'dist'));
  for (const built of ['dist/src/cli/main.js', 'dist/web/index.html']) {
    if (!existsSync(join(root, built))) fail(`${built} is missing: run \`npm run build\` first (\`npm run package\` does)`);
  }
  for (const tool of ['dpkg-deb', 'gcc']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      fail(`${tool} is not installed (apt-get install ${tool === 'gcc' ? 'gcc' : 'dpkg'})`);
    }
  }
  const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
  const version = `${pkg.version}-${revision}`;
  const started = Date.now();
  mkdirSync(cache, { recursive: true });
  const modules = productionModules();
  const native = nativeHelpers();

  const stage = join(cache, `stage-${process.pid}`);
  rmSync(stage, { recursive: true, force: true });
  try {
    const lib = join(stage, LIB);
    mkdirSync(join(lib, 'bin'), { recursive: true });
    copyDist(stage);
    writeFileSync(join(lib, 'package.json'), packageJson(pkg.version));
    copyFileSync(join(root, 'bin', 'ardesia.js'), join(lib, 'bin', 'ardesia.js'));
    chmodSync(join(lib, 'bin', 'ardesia.js'), 0o755);
    // What `image build` (guest/linux) and `thinclient build` (guest/thinclient) install; the rest is the test guests'.
    for (const dir of ['linux', 'thinclient']) cpSync(join(root, 'guest', dir), join(lib, 'guest', dir), { recursive: true });
    // Hard links into the cached tree (the same file system, nothing in it is changed here): no copy per build.
    execFileSync('cp', ['-a', '--link', modules, join(lib, 'node_modules')]);
    cpSync(native, join(lib, '.cache', 'native'), { recursive: true });

    mkdirSync(join(stage, 'usr/bin'), { recursive: true });
    writeFileSync(join(stage, 'usr/bin/ardesia'), `#!/bin/sh\n# The ardesia command of the Debian package: Node 20 runs the compiled CLI.\nexec /usr/bin/node /${LIB}/bin/ardesia.js "$@"\n`, { mode: 0o755 });
    chmodSync(join(stage, 'usr/bin/ardesia'), 0o755);
    mkdirSync(join(stage, 'lib/systemd/system'), { recursive: true });
    for (const unit of ['ardesia.service', 'ardesia-netboot.service', 'ardesia-agent.service']) copyFileSync(join(packaging, 'systemd', unit), join(stage, 'lib/systemd/system', unit));
    mkdirSync(join(stage, 'etc/ardesia'), { recursive: true });
    for (const f of CONFFILES) copyFileSync(join(packaging, 'etc', f.split('/').pop()), join(stage, f));
    const doc = join(stage, 'usr/share/doc/ardesia');
    mkdirSync(join(doc, 'examples'), { recursive: true });
    copyFileSync(join(root, 'README.md'), join(doc, 'README.md'));
    copyFileSync(join(root, 'docs', 'netboot.md'), join(doc, 'netboot.md'));
    copyFileSync(join(packaging, 'examples', 'netboot.yaml'), join(doc, 'examples', 'netboot.yaml'));
    writeFileSync(join(doc, 'copyright'), `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: ardesia\n\nFiles: *\nLicense: ${pkg.license}\n`);

    const debian = join(stage, 'DEBIAN');
    mkdirSync(debian);
    for (const script of ['postinst', 'prerm', 'postrm']) {
      copyFileSync(join(packaging, 'debian', script), join(debian, script));
      chmodSync(join(debian, script), 0o755);
    }
    writeFileSync(join(debian, 'conffiles'), `${CONFFILES.join('\n')}\n`);
    writeFileSync(join(debian, 'control'), control({
      Package: 'ardesia',
      Version: version,
      Architecture: arch,
      Maintainer: 'Ardesia <ardesia@localhost>',
      'Installed-Size': installedSizeKiB(stage),
      Depends: DEPENDS.join(', '),
      Recommends: RECOMMENDS.join(', '),
      Suggests: SUGGESTS.join(', '),
      Section: 'admin',
      Priority: 'optional',
      Description: `${pkg.description}\n The controller (ardesia.service), the standalone netboot server (ardesia-netboot.service),\n the agent of a joined host (ardesia-agent.service) and the ardesia command. Data: /var/lib/ardesia; settings: /etc/ardesia; logs: the journal.`,
    }));

    mkdirSync(outDir, { recursive: true });
    const deb = join(outDir, `ardesia_${version}_${arch}.deb`);
    // gzip at a low level: a build every test run; xz would take most of a minute on a shared core for little gain.
    execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z3', '--build', stage, deb], { stdio: ['ignore', 'ignore', 'inherit'] });
    const size = (statSync(deb).size / 1048576).toFixed(1);
    console.log(`ardesia package: ${relative(process.cwd(), deb) || deb} (${size} MiB, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    console.log(deb);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

main();
