#!/usr/bin/env node
// `npm start`: the all-in-one daemon with its embedded store, a demo VM, and a demo pool of desktops built
// from Debian packages, with a demo administrator and user.
// (npm's prestart has already installed what is missing and compiled the code.)
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = process.env.ARDESIA_DATA_DIR ?? (process.getuid?.() === 0 ? '/var/lib/ardesia' : join(root, '.cache', 'data'));
const listen = process.env.ARDESIA_LISTEN ?? '127.0.0.1:8080';

// The demo guest: the same small Debian-kernel + busybox guest the tests boot, built once and cached.
const built = spawnSync(process.execPath, [join(root, 'dist', 'scripts', 'guests', 'build.js')], { stdio: 'inherit' });
if (built.status !== 0) process.exit(built.status ?? 1);
const { guestArtifacts } = await import(join(root, 'dist', 'scripts', 'guests', 'artifacts.js'));
const g = guestArtifacts();

mkdirSync(join(dataDir, 'demo'), { recursive: true });
const demoDisk = join(dataDir, 'demo', 'demo.qcow2');
spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', g.amd64.rootQcow2, demoDisk], { stdio: 'ignore' });
const confPath = join(dataDir, 'demo', 'vm.conf');
writeFileSync(
  confPath,
  `# The demo VM of \`npm start\`: a Debian cloud kernel with a busybox root on a qcow2 overlay.
vm "demo" {
  memory 256M
  boot "${g.amd64.kernel}"
  initrd "${g.amd64.initrd}"
  cmdline "console=ttyS0 root=/dev/vda rw quiet"
  disk "${demoDisk}" format qcow2
  enable
}
`,
);

const cli = `${join(root, 'bin', 'ardesia.js')} --data-dir ${dataDir}`;
const daemon = spawn(process.execPath, [join(root, 'bin', 'ardesia.js'), '--data-dir', dataDir, 'serve', '--listen', listen, '--config', confPath, '--stop-vms-on-exit'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
/** Runs the CLI without blocking this process (the daemon's output must keep flowing meanwhile). */
function runCli(args, inherit = false) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'ardesia.js'), '--data-dir', dataDir, ...args], { stdio: inherit ? 'inherit' : 'ignore' });
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

/** Runs the CLI and collects its standard output. */
function runCliOutput(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'ardesia.js'), '--data-dir', dataDir, ...args], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => resolve({ code: code ?? 1, out }));
  });
}

/** The demo accounts, created once with generated passwords that are printed this one time. */
async function ensureDemoAccounts() {
  const made = [];
  for (const [name, admin] of [['admin', true], ['demo', false]]) {
    const r = await runCliOutput(['--json', 'user', 'add', name, ...(admin ? ['--admin'] : []), '--full-name', admin ? 'Demo administrator' : 'Demo user']);
    if (r.code === 0) made.push({ name, admin, password: JSON.parse(r.out).password });
  }
  return made;
}

/** The demo gold image, built once from Debian packages (cached; the first build takes minutes), and a pool of it. */
async function ensureDemoPool() {
  if ((await runCli(['image', 'show', 'demo'])) !== 0) {
    process.stdout.write('\nBuilding the demo gold image from Debian packages (once; cached afterwards)…\n');
    if ((await runCli(['image', 'build', 'demo'], true)) !== 0) {
      process.stdout.write('The demo image could not be built; the daemon keeps running without it.\n');
      return;
    }
  }
  if ((await runCli(['pool', 'show', 'demo'])) !== 0) {
    await runCli(['pool', 'create', 'demo', '--image', 'demo', '--warm', '1', '--max', '4', '--vcpus', '2', '--memory', '1G', '--users', 'demo,admin'], true);
  }
  process.stdout.write(`\nThe demo pool is ready to fill: its first warm spare boots in the background (about a minute under TCG) while its restore\ntemplate is built; later desktops are restored from the template (ardesia pool show demo: the start line).\nOpen ${web}/ and log in.\n`);
}

async function demo() {
  const accounts = await ensureDemoAccounts();
  if (accounts.length > 0) {
    process.stdout.write(`\n Demo accounts (passwords shown this once; change them with \`${cli} user passwd NAME\`):\n`);
    for (const a of accounts) process.stdout.write(`   ${a.name.padEnd(6)} ${a.password}   ${a.admin ? '(administrator: /admin)' : '(desk user)'}\n`);
  } else {
    process.stdout.write(`\n Demo accounts admin and demo exist already (forgot a password? ${cli} user passwd NAME)\n`);
  }
  await ensureDemoPool();
}

/** The daemon's own words: off loopback it serves HTTPS, and the URL and certificate fingerprint come from it. */
let web = `http://${listen}`;
let fingerprint;
function listeningLine(text) {
  for (const line of text.split('\n')) {
    if (!line.includes('ardesia daemon listening')) continue;
    try {
      const rec = JSON.parse(line);
      web = rec.url ?? web;
      fingerprint = rec.tlsFingerprint;
    } catch {
      // not a JSON line: keep the address from ARDESIA_LISTEN
    }
  }
}

let announced = false;
daemon.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  if (!announced && chunk.toString().includes('ardesia daemon listening')) {
    announced = true;
    listeningLine(chunk.toString());
    void demo();
    process.stdout.write(`
────────────────────────────────────────────────────────────────────────
 Ardesia is running.   data: ${dataDir}   API: ${web} (and ${join(dataDir, 'ardesia.sock')})${fingerprint ? `
 HTTPS certificate SHA-256 fingerprint (check it in the browser; CLI: --url ${web} login --fingerprint …):
   ${fingerprint}` : ''}
 In another terminal:
   ${cli} vm status              # the demo VM, its state and accelerator
   ${cli} vm console demo        # its serial console (detach with ~.)
   ${cli} vm stop -w demo        # ACPI power button, wait until off
   ${cli} host check             # KVM or TCG on this machine, and why
   ${cli} image versions demo    # the demo gold image (Debian, jwm, built from packages)
   ${cli} pool show demo         # the demo pool: warm spares, desktops by state and version
 In a browser: ${web}/  (portal; administrators also get /admin)
 For --url use, the root API token is in ${join(dataDir, 'root.token')} (root-only).
 Ctrl+C stops the daemon (and, in this demo, its VMs).
────────────────────────────────────────────────────────────────────────
`);
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => daemon.kill('SIGTERM'));
daemon.on('exit', (code) => process.exit(code ?? 0));
