#!/usr/bin/env node
// `npm start`: the all-in-one daemon with its embedded store and a demo VM built from Debian packages.
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

/** The demo gold image, built once from Debian packages (cached; the first build takes minutes). */
async function ensureDemoImage() {
  if ((await runCli(['image', 'show', 'demo'])) === 0) return;
  process.stdout.write('\nBuilding the demo gold image from Debian packages (once; cached afterwards)…\n');
  if ((await runCli(['image', 'build', 'demo'], true)) !== 0) {
    process.stdout.write('The demo image could not be built; the daemon keeps running without it.\n');
    return;
  }
  await runCli(['desktop', 'create', 'demo-desktop', '--image', 'demo', '--home', 'demo'], true);
}

let announced = false;
daemon.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  if (!announced && chunk.toString().includes('ardesia daemon listening')) {
    announced = true;
    void ensureDemoImage();
    process.stdout.write(`
────────────────────────────────────────────────────────────────────────
 Ardesia is running.   data: ${dataDir}   API: http://${listen} (and ${join(dataDir, 'ardesia.sock')})
 In another terminal:
   ${cli} vm status              # the demo VM, its state and accelerator
   ${cli} vm console demo        # its serial console (detach with ~.)
   ${cli} vm stop -w demo        # ACPI power button, wait until off
   ${cli} host check             # KVM or TCG on this machine, and why
   ${cli} image versions demo    # the demo gold image (Debian, jwm, built from packages)
   ${cli} desktop start demo-desktop ; ${cli} vm console demo-desktop   # a desktop cloned from it
 For --url use, the root API token is in ${join(dataDir, 'root.token')} (root-only).
 Ctrl+C stops the daemon (and, in this demo, its VMs).
────────────────────────────────────────────────────────────────────────
`);
  }
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => daemon.kill('SIGTERM'));
daemon.on('exit', (code) => process.exit(code ?? 0));
