// The Debian package on this machine: built by scripts/package.mjs, inspected, installed with dpkg, its controller
// unit started (by systemd where it is PID 1, else its ExecStart run as systemd would: the unit's environment,
// capability bounding set, no-new-privileges and file-system confinement in a mount namespace), a VM booted through it, upgraded to a higher version (data,
// the administrator's setting and the running VM kept, daemon restarted), removed (data kept), purged (data gone).
// A data folder of another install at /var/lib/ardesia is moved aside for the test and put back.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { qemuPidsUnder, REPO_ROOT, until } from '../helpers/daemon.js';
import { guestArtifacts } from '../helpers/guests.js';
import { addTestNamespaceSync } from '../helpers/netns.js';
import { capabilityMask, sandboxScript, setprivBoundingSet, unitCapabilities, unitCommand, unitParse, unitValues } from './unit-file.js';

const DATA = '/var/lib/ardesia';
const UNIT_DIR = '/lib/systemd/system';
const ENV_FILE = '/etc/ardesia/ardesia.env';
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const WITH_SYSTEMD = existsSync('/run/systemd/system');
const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): { status: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { PATH, DEBIAN_FRONTEND: 'noninteractive', ...env }, timeout: 300_000 });
  return { status: r.status ?? 1, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

function must(cmd: string, args: string[]): string {
  const r = run(cmd, args);
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}:\n${r.out}`);
  return r.out;
}

/** The installed command, with the environment of an administrator's shell (not the test runner's ARDESIA_*). */
function ardesia(...args: string[]): { status: number; out: string } {
  return run('/usr/bin/ardesia', args, { HOME: '/root' });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function procStatus(pid: number, field: string): string {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return line?.split(/\s+/)[1] ?? '';
}

/** The options of the mount at `point` as process `pid` sees it (the last one mounted there). */
function mountOptions(pid: number, point: string): string {
  const mounts = readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n').map((l) => l.split(' ')).filter((f) => f[4] === point);
  return mounts.at(-1)?.[5] ?? '';
}

/** A unit of the package run as systemd runs it: by systemd, or its command line under the unit's restrictions. */
class UnitRunner {
  private proc: ChildProcess | undefined;
  output = '';

  /** `netns`: the unit runs in that network namespace (systemd: NetworkNamespacePath= in a runtime drop-in). */
  constructor(readonly name: string, readonly netns?: string) {}

  private get dropIn(): string {
    return `/run/systemd/system/${this.name}.d`;
  }

  start(): void {
    if (WITH_SYSTEMD) {
      if (this.netns) {
        mkdirSync(this.dropIn, { recursive: true });
        writeFileSync(join(this.dropIn, 'package-test.conf'), `[Service]\nNetworkNamespacePath=/run/netns/${this.netns}\n`);
        must('systemctl', ['daemon-reload']);
      }
      must('systemctl', ['restart', this.name]);
      return;
    }
    const unit = unitParse(readFileSync(join(UNIT_DIR, this.name), 'utf8'));
    for (const path of unitValues(unit, 'Unit', 'ConditionPathExists')) assert.ok(existsSync(path), `${this.name} starts only with ${path}`);
    const { argv, env } = unitCommand(unit, (p) => (existsSync(p) ? readFileSync(p, 'utf8') : undefined));
    const nnp = unitValues(unit, 'Service', 'NoNewPrivileges')[0] === 'yes' ? ['--no-new-privs'] : [];
    const command = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', sandboxScript(unit), 'sandbox',
      'setpriv', '--bounding-set', setprivBoundingSet(unitCapabilities(unit)), ...nnp, '--', ...argv];
    if (this.netns) command.unshift('ip', 'netns', 'exec', this.netns);
    this.output = '';
    this.proc = spawn(command[0]!, command.slice(1), { cwd: '/', env: { PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
  }

  pid(): number {
    if (WITH_SYSTEMD) return Number(must('systemctl', ['show', '-p', 'MainPID', '--value', this.name]).trim());
    return this.proc?.pid ?? 0;
  }

  /** Stops the unit's main process only, as systemd does with KillMode=process (the controller's VMs keep running). */
  async stop(): Promise<void> {
    if (WITH_SYSTEMD) {
      run('systemctl', ['stop', this.name]);
      if (this.netns && existsSync(this.dropIn)) {
        rmSync(this.dropIn, { recursive: true, force: true });
        run('systemctl', ['daemon-reload']);
      }
      return;
    }
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    await exited;
  }
}

async function healthy(port: number): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  return res.ok;
}

function installedVersion(): string {
  const r = run('dpkg-query', ['-W', '-f=${Status} ${Version}', 'ardesia']);
  return r.status === 0 ? r.out.trim() : '';
}

test('the .deb builds, installs, runs its unit, upgrades, is removed and purged on this machine', { timeout: 600_000 }, async (t) => {
  assert.equal(process.getuid?.(), 0, 'installing a package needs root (CI runs the suite as root)');
  assert.equal(installedVersion().includes('installed'), false, `an ardesia package is installed already (${installedVersion()}): \`dpkg --purge ardesia\` (an interrupted run of this test leaves it, and another install's data in ${DATA}.package-test-PID to move back)`);
  const g = guestArtifacts();
  const work = mkdtempSync(join(tmpdir(), 'ard-deb-'));
  const aside = `${DATA}.package-test-${process.pid}`;
  const accountBefore = run('getent', ['passwd', 'ardesia-qemu']).out.trim();
  const controller = new UnitRunner('ardesia.service');
  const agent = new UnitRunner('ardesia-agent.service');
  const netns = `ardpkg-${process.pid}`;
  const netboot = new UnitRunner('ardesia-netboot.service', netns);
  let movedAside = false;
  try {
    if (existsSync(DATA)) {
      // Another install's data (npm start's, as root): kept aside unless a daemon holds it.
      const free = run('flock', ['-n', '-E', '75', join(DATA, 'ardesia.lock'), 'true']);
      assert.notEqual(free.status, 75, `a daemon runs on ${DATA}; stop it before this test (its data would be moved aside)`);
      renameSync(DATA, aside);
      movedAside = true;
    }

    const debs: string[] = [];
    await t.test('npm run package builds two revisions from the compiled tree', () => {
      for (const revision of ['1', '2']) {
        const out = must(process.execPath, [join(REPO_ROOT, 'scripts', 'package.mjs'), '--revision', revision, '--out', work]);
        const deb = out.trim().split('\n').at(-1)!;
        assert.match(deb, new RegExp(`ardesia_${VERSION.replace(/\./g, '\\.')}-${revision}_[a-z0-9]+\\.deb$`));
        debs.push(deb);
      }
    });

    await t.test('the package: control fields, conffiles, maintainer scripts, files', () => {
      const info = must('dpkg-deb', ['-I', debs[0]!]);
      assert.match(info, new RegExp(`Version: ${VERSION}-1\\n`));
      const depends = /Depends: (.*)\n/.exec(info)?.[1] ?? '';
      for (const dep of ['nodejs (>= 20)', 'nodejs (<< 21)', 'qemu-system-x86', 'qemu-utils', 'nftables', 'iproute2', 'ovmf', 'openssl', 'mmdebstrap', 'eatmydata']) {
        assert.ok(depends.split(', ').includes(dep), `Depends names ${dep}: ${depends}`);
      }
      const control = join(work, 'control');
      must('dpkg-deb', ['-e', debs[0]!, control]);
      assert.deepEqual(readFileSync(join(control, 'conffiles'), 'utf8').trim().split('\n'), ['/etc/ardesia/ardesia.env', '/etc/ardesia/netboot.env']);
      for (const script of ['postinst', 'prerm', 'postrm']) {
        assert.equal(statSync(join(control, script)).mode & 0o777, 0o755, script);
        must('sh', ['-n', join(control, script)]);
      }
      const files = must('dpkg-deb', ['-c', debs[0]!]).split('\n').map((l) => l.split(/\s+/).slice(5).join(' ').replace(/^\./, ''));
      const expected = [
        '/usr/bin/ardesia', '/lib/systemd/system/ardesia.service', '/lib/systemd/system/ardesia-netboot.service',
        '/etc/ardesia/ardesia.env', '/usr/lib/ardesia/dist/src/cli/main.js', '/usr/lib/ardesia/dist/web/index.html',
        '/usr/lib/ardesia/node_modules/better-sqlite3/build/Release/better_sqlite3.node', '/usr/lib/ardesia/guest/linux/ardesia-guest-helper',
        ...['display-relay', 'tftp-sender', 'qmp-add-fd', 'ra-responder', 'dhcp-port', 'tap-open'].map((h) => `/usr/lib/ardesia/.cache/native/${h}`),
      ];
      for (const f of expected) assert.ok(files.includes(f), `the package holds ${f}`);
      assert.deepEqual(files.filter((f) => f.startsWith('/usr/lib/ardesia/dist/') && /\.test\.js$|\.map$/.test(f)), [], 'no test files or source maps of ours');
      for (const dev of ['typescript', 'vite', 'playwright-core']) assert.equal(files.some((f) => f.startsWith(`/usr/lib/ardesia/node_modules/${dev}/`)), false, `no devDependency ${dev}`);
      assert.ok(files.includes('/lib/systemd/system/ardesia-agent.service'), 'the agent unit ships with the agent command');
    });

    await t.test('dpkg -i installs it: accounts, folders, units enabled, the command', () => {
      must('dpkg', ['-i', '--force-confdef', '--force-confold', debs[0]!]);
      assert.match(installedVersion(), new RegExp(`install ok installed ${VERSION}-1`));
      const account = run('getent', ['passwd', 'ardesia-qemu']).out.trim();
      assert.ok(account, 'the ardesia-qemu account exists');
      if (accountBefore) assert.equal(account, accountBefore, 'an account made before the package is kept as it was');
      if (run('getent', ['group', 'kvm']).status === 0) assert.ok(run('id', ['-nG', 'ardesia-qemu']).out.split(/\s+/).includes('kvm'), 'ardesia-qemu is in kvm');
      assert.equal(run('getent', ['group', 'ardesia-qemu-host']).status, 0);
      assert.equal(statSync(DATA).mode & 0o777, 0o711);
      assert.ok(existsSync('/etc/systemd/system/multi-user.target.wants/ardesia.service'), 'ardesia.service is enabled');
      assert.equal(existsSync('/etc/systemd/system/multi-user.target.wants/ardesia-netboot.service'), false, 'netboot waits for its configuration');
      const help = ardesia('--help');
      assert.equal(help.status, 0, help.out);
      assert.match(help.out, /^\s+agent\b/m, 'the agent command the agent unit runs');
      assert.equal(existsSync('/etc/systemd/system/multi-user.target.wants/ardesia-agent.service'), false, 'the agent waits until the host has joined');
      const analyze = run('sh', ['-c', 'command -v systemd-analyze']);
      if (analyze.status === 0) {
        for (const unit of ['ardesia.service', 'ardesia-netboot.service', 'ardesia-agent.service']) {
          const v = run('systemd-analyze', ['verify', join(UNIT_DIR, unit)]);
          assert.equal(v.status, 0, `systemd-analyze verify ${unit}:\n${v.out}`);
        }
      }
    });

    const port = await freePort();
    let pidBefore = 0;
    let qemuBefore: number[] = [];
    await t.test('the controller unit runs under its restrictions; the API answers; a VM boots through it', async () => {
      // The administrator's setting: a loopback port of our choosing (kept across the upgrade).
      writeFileSync(ENV_FILE, readFileSync(ENV_FILE, 'utf8').replace(/^ARDESIA_LISTEN=.*$/m, `ARDESIA_LISTEN=127.0.0.1:${port}`));
      controller.start();
      await until('the controller answering /healthz', () => healthy(port), 120_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${controller.output}`);
      });
      pidBefore = controller.pid();
      const unit = unitParse(readFileSync(join(UNIT_DIR, 'ardesia.service'), 'utf8'));
      assert.equal(procStatus(pidBefore, 'CapBnd'), capabilityMask(unitCapabilities(unit)), 'the daemon holds only the unit\'s capabilities');
      assert.equal(procStatus(pidBefore, 'NoNewPrivs'), '1');
      assert.match(mountOptions(pidBefore, '/'), /^ro\b/, 'the OS is read-only to the daemon');
      assert.match(mountOptions(pidBefore, DATA), /^rw\b/, 'its data folder is writable');
      assert.equal(ardesia('--json', 'user', 'add', 'keeper').status, 0, 'the API over the root-only socket');

      // A VM under those capabilities: QEMU as its own uid (setpriv under no-new-privileges), its files in the data folder.
      const guest = join(DATA, 'package-test');
      mkdirSync(guest, { recursive: true });
      for (const [from, to] of [[g.amd64.kernel, 'vmlinuz'], [g.amd64.initrd, 'initrd'], [g.amd64.rootQcow2, 'root.qcow2']] as const) copyFileSync(from, join(guest, to));
      const disk = join(guest, 'disk.qcow2');
      const made = ardesia('vm', 'create', '-b', join(guest, 'root.qcow2'), disk);
      assert.equal(made.status, 0, made.out);
      writeFileSync(join(guest, 'vm.conf'), `vm "deb-install" {\n memory 160M\n boot "${guest}/vmlinuz"\n initrd "${guest}/initrd"\n cmdline "console=ttyS0 root=/dev/vda rw quiet"\n disk "${disk}"\n disable\n}\n`);
      assert.equal(ardesia('vm', 'load', join(guest, 'vm.conf')).status, 0);
      const started = ardesia('vm', 'start', 'deb-install');
      assert.equal(started.status, 0, `${started.out}\n${controller.output}`);
      await until('the guest banner', () => ardesia('vm', 'log', 'deb-install').out.includes(g.amd64.banner), 180_000);
      qemuBefore = qemuPidsUnder(join(DATA, 'runtime', 'deb-install'));
      assert.equal(qemuBefore.length, 1, 'one QEMU');
      assert.ok(Number(procStatus(qemuBefore[0]!, 'Uid')) >= 2_000_000_000, 'QEMU runs as a VM uid');
      if (WITH_SYSTEMD) assert.match(must('journalctl', ['-u', 'ardesia.service', '--no-pager']), /ardesia daemon listening/, 'logs in the journal');
    });

    await t.test('the netboot unit starts once configured and serves DHCP, TFTP and HTTP boot under its restrictions', async () => {
      // Its own namespace with a veth pair: port 67 and the broadcast address stay away from the host's.
      addTestNamespaceSync(netns);
      must('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
      must('ip', ['-n', netns, 'link', 'add', 'boot0', 'type', 'veth', 'peer', 'name', 'boot1']);
      must('ip', ['-n', netns, 'link', 'set', 'boot1', 'up']);
      must('ip', ['-n', netns, 'addr', 'add', '10.251.77.1/24', 'dev', 'boot0']);
      must('ip', ['-n', netns, 'link', 'set', 'boot0', 'up']);
      const unit = unitParse(readFileSync(join(UNIT_DIR, 'ardesia-netboot.service'), 'utf8'));
      assert.deepEqual(unitValues(unit, 'Unit', 'ConditionPathExists'), ['/etc/ardesia/netboot.yaml'], 'it waits for its configuration');
      const example = readFileSync('/usr/share/doc/ardesia/examples/netboot.yaml', 'utf8');
      writeFileSync('/etc/ardesia/netboot.yaml', example.replace('192.168.1.5', '10.251.77.1').replace('mode: proxy', 'mode: proxy\n    http: { port: 18077 }'));
      netboot.start();
      // Ready when HTTP boot, DHCP (67, and 4011 in proxy mode) and TFTP all listen.
      const listening = (): string => run('ip', ['netns', 'exec', netns, 'ss', '-ulnt']).out;
      await until('the netboot server listening', () => [':18077 ', ':67 ', ':69 ', ':4011 '].every((port) => listening().includes(port)), 120_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${listening()}\n${netboot.output}`);
      });
      const pid = netboot.pid();
      assert.equal(procStatus(pid, 'CapBnd'), capabilityMask(unitCapabilities(unit)));
      assert.equal(procStatus(pid, 'NoNewPrivs'), '1');
      assert.match(mountOptions(pid, '/'), /^ro\b/);
      assert.ok(existsSync('/var/lib/ardesia-netboot/ardesia.db'), 'its own data folder');
      // A PXE ROM's first file over TFTP: the native sender drops to ardesia-qemu within the unit's capabilities.
      const client = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'netboot', 'tftp', 'client.js')).href;
      const got = run('ip', ['netns', 'exec', netns, process.execPath, '--input-type=module', '-e',
        `import { tftpGet } from ${JSON.stringify(client)}; console.log(JSON.stringify(await tftpGet({ server: '10.251.77.1', file: 'undionly.kpxe' })));`]);
      assert.equal(got.status, 0, `${got.out}\n${netboot.output}`);
      assert.equal((JSON.parse(got.out) as { sha256: string }).sha256, createHash('sha256').update(readFileSync('/usr/lib/ipxe/undionly.kpxe')).digest('hex'));
      const log = (): string => (WITH_SYSTEMD ? must('journalctl', ['-u', 'ardesia-netboot.service', '--no-pager', '-o', 'cat']) : netboot.output);
      await until('the native sender in the log', () => /"event":"tftp-start"[^\n]*"via":"native"/.test(log()), 60_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${log()}`);
      });
      await netboot.stop();
    });

    await t.test('the agent unit starts once the host has joined, and keeps trying its controller under its restrictions', async () => {
      const unit = unitParse(readFileSync(join(UNIT_DIR, 'ardesia-agent.service'), 'utf8'));
      assert.deepEqual(unitValues(unit, 'Unit', 'ConditionPathExists'), ['/var/lib/ardesia-agent/agent.json'], 'it waits for the join');
      assert.deepEqual(unitCapabilities(unit), [], 'no capability');
      // What a join leaves (ardesia agent --join TOKEN), naming a controller that is not there: the agent measures
      // its host, fails to link and retries, as after any controller outage.
      const closed = await freePort();
      writeFileSync('/var/lib/ardesia-agent/agent.json', `${JSON.stringify({ controller: `https://127.0.0.1:${closed}`, fingerprint: 'AA:'.repeat(31) + 'AA', host: 'package-test', credential: `ardesia-agent.${'A'.repeat(43)}` })}\n`, { mode: 0o600 });
      agent.start();
      const log = (): string => (WITH_SYSTEMD ? must('journalctl', ['-u', 'ardesia-agent.service', '--no-pager', '-o', 'cat']) : agent.output);
      await until('the agent retrying its controller', () => /agent reconnecting in \d+ ms/.test(log()), 120_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${log()}`);
      });
      const pid = agent.pid();
      assert.equal(procStatus(pid, 'CapBnd'), capabilityMask([]), 'the agent holds no capability');
      assert.equal(procStatus(pid, 'NoNewPrivs'), '1');
      assert.match(mountOptions(pid, '/'), /^ro\b/, 'the OS is read-only to the agent');
      assert.match(mountOptions(pid, '/var/lib/ardesia-agent'), /^rw\b/, 'its data folder is writable');
      assert.match(log(), /agent of host package-test: \d+ MiB/, 'it measured its host before linking');
      await agent.stop();
    });

    await t.test('an upgrade to a higher version keeps the data, the setting and the VM, and restarts the daemon', async () => {
      must('dpkg', ['-i', '--force-confdef', '--force-confold', debs[1]!]);
      assert.match(installedVersion(), new RegExp(`install ok installed ${VERSION}-2`));
      if (!WITH_SYSTEMD) {
        // postinst's restart, which systemd would do.
        await controller.stop();
        controller.start();
      }
      await until('the upgraded controller answering', async () => controller.pid() !== pidBefore && (await healthy(port)), 120_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${WITH_SYSTEMD ? must('journalctl', ['-u', 'ardesia.service', '--no-pager', '-o', 'cat', '-n', '60']) : controller.output}`);
      });
      assert.match(readFileSync(ENV_FILE, 'utf8'), new RegExp(`^ARDESIA_LISTEN=127.0.0.1:${port}$`, 'm'), 'the changed conffile is kept');
      const users = ardesia('--json', 'user', 'list');
      assert.match(users.out, /"keeper"/, 'the store survived');
      const status = ardesia('--json', 'vm', 'status', 'deb-install');
      assert.equal((JSON.parse(status.out) as { state: string; pid: number }).pid, qemuBefore[0], 'the same QEMU, re-attached');
      const stopped = ardesia('vm', 'stop', '-w', 'deb-install');
      assert.equal(stopped.status, 0, stopped.out);
    });

    await t.test('remove keeps the data and settings; purge removes them, the account stays', async () => {
      if (!WITH_SYSTEMD) await controller.stop(); // prerm's stop, which systemd would do
      must('dpkg', ['--remove', 'ardesia']);
      assert.equal(existsSync('/usr/bin/ardesia'), false);
      assert.ok(existsSync(join(DATA, 'ardesia.db')), 'remove keeps the data');
      assert.ok(existsSync(ENV_FILE), 'remove keeps the conffiles');
      must('dpkg', ['--purge', 'ardesia']);
      assert.equal(installedVersion(), '');
      for (const gone of [DATA, '/var/lib/ardesia-netboot', ENV_FILE, join(UNIT_DIR, 'ardesia.service'), '/etc/systemd/system/multi-user.target.wants/ardesia.service', '/usr/lib/ardesia']) {
        assert.equal(existsSync(gone), false, `${gone} is gone after purge`);
      }
      // The administrator's own file is not the package's to delete.
      assert.deepEqual(readdirSync('/etc/ardesia'), ['netboot.yaml']);
      rmSync('/etc/ardesia', { recursive: true });
      const account = run('getent', ['passwd', 'ardesia-qemu']);
      assert.equal(account.status, 0, 'the account stays (files may still be its, and setup may have made it)');
      if (accountBefore) assert.equal(account.out.trim(), accountBefore);
    });
  } finally {
    await agent.stop();
    await netboot.stop();
    run('ip', ['netns', 'del', netns]);
    await controller.stop();
    for (const pid of qemuPidsUnder(join(DATA, 'runtime', 'deb-install'))) process.kill(pid, 'SIGKILL');
    if (installedVersion() !== '') run('dpkg', ['--purge', 'ardesia']);
    rmSync('/etc/ardesia/netboot.yaml', { force: true });
    if (existsSync('/etc/ardesia') && readdirSync('/etc/ardesia').length === 0) rmSync('/etc/ardesia', { recursive: true });
    if (movedAside) {
      rmSync(DATA, { recursive: true, force: true });
      renameSync(aside, DATA);
    }
    rmSync(work, { recursive: true, force: true });
  }
});

test('the units list only capabilities the unit comments justify', () => {
  for (const name of ['ardesia.service', 'ardesia-netboot.service', 'ardesia-agent.service']) {
    const text = readFileSync(join(REPO_ROOT, 'packaging', 'systemd', name), 'utf8');
    const comments = text.split('\n').filter((l) => l.startsWith('# CAP_')).join(' ');
    for (const cap of unitCapabilities(unitParse(text))) assert.match(comments, new RegExp(`${cap}\\b`), `${name}: ${cap} has a comment saying why`);
    assert.deepEqual(readdirSync(join(REPO_ROOT, 'packaging', 'systemd')).sort(), ['ardesia-agent.service', 'ardesia-netboot.service', 'ardesia.service']);
  }
});
