// Never two writers on a home, with real sanlock daemons: hosts are mount + network namespaces this file creates,
// each with its own sanlock daemon (no watchdog: -w 0) and run folder, all sharing one lease folder on a disk
// filesystem (sanlock uses O_DIRECT). QEMU is the busybox test guest, registered by native/home-lease.c.
// One bed for the file; the power-loss case (76 s of lease expiry) starts first and is awaited last. The daemon judges
// silent hosts by their storage lease: suspect while it is renewed, down once it expired.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { DesktopView, SessionInfo } from '../../src/contract/pools.js';
import type { AuditEntry } from '../../src/contract/users.js';
import type { ApiClient } from '../../src/cli/client.js';
import { EXIT_REFUSED_BEFORE_EXEC, homeResource, hostDeadSeconds, type LeaseResource, leaseFiles, lockspaceText, SANLOCK_RV } from '../../src/cluster/home-leases/layout.js';
import { SanlockClient } from '../../src/cluster/home-leases/sanlock.js';
import { HomeLeases } from '../../src/cluster/home-leases/service.js';
import type { ArdesiaError } from '../../src/contract/errors.js';
import type { DesktopInfo, HomeInfo } from '../../src/contract/images.js';
import type { HostView } from '../../src/contract/hosts.js';
import { openStore } from '../../src/store/db.js';
import pino from 'pino';
import { guestArtifacts } from '../helpers/guests.js';
import { qemuPidsUnder, TestDaemon, until } from '../helpers/daemon.js';
import { sanlockAnswers } from '../helpers/sanlock.js';
import { helperImage, untilDesktops, userClient } from '../pools/support.js';
import { assertHostLossOutcome, LOST_HOST_VMS, runningVmRow } from './host-loss-support.js';

const IO_TIMEOUT_S = 2;

/** A disk folder for the shared storage: /tmp may be a tmpfs, where sanlock's O_DIRECT fails. */
function diskFolder(): string {
  const fs = execFileSync('stat', ['-f', '-c', '%T', '/tmp'], { encoding: 'utf8' }).trim();
  return mkdtempSync(fs === 'tmpfs' ? '/var/tmp/ardl-' : '/tmp/ardl-');
}

const sanlockUser = execFileSync('getent', ['passwd', 'sanlock'], { encoding: 'utf8' }).split(':');

/** One host: its own mount and network namespaces, sanlock daemon and run folder. */
class Host {
  readonly runDir: string;
  daemon!: ChildProcess;
  readonly client: SanlockClient;
  readonly qemus: ChildProcess[] = [];

  constructor(readonly name: string, root: string, readonly hostId: number) {
    this.runDir = join(root, `run-${name}`);
    mkdirSync(this.runDir, { recursive: true });
    chownSync(this.runDir, Number(sanlockUser[2]), Number(sanlockUser[3]));
    this.client = new SanlockClient({ ...process.env, SANLOCK_RUN_DIR: this.runDir });
  }

  get env(): NodeJS.ProcessEnv {
    return { ...process.env, SANLOCK_RUN_DIR: this.runDir, SANLOCK_PRIVILEGED: '0' };
  }

  async start(): Promise<void> {
    // unshare execs sanlock: the daemon's pid is this child's, and its namespaces are the host's.
    this.daemon = spawn('unshare', ['--mount', '--net', '--propagation', 'private', '--', 'sanlock', 'daemon', '-D', '-w', '0', '-L', '-1', '-U', 'sanlock', '-G', 'sanlock'], { env: this.env, stdio: 'ignore', detached: true });
    await sanlockAnswers(this.name, this.env);
  }

  /** Runs a command in this host's namespaces (nsenter into the daemon's). */
  inHost(argv: string[]): string[] {
    return ['nsenter', '-t', String(this.daemon.pid), '-m', '-n', '--', ...argv];
  }

  async join(files: ReturnType<typeof leaseFiles>): Promise<void> {
    await this.client.joinLockspace(files, this.hostId, IO_TIMEOUT_S);
  }

  /** The busybox test guest's QEMU on this host, a registered sanlock client (the helper execs QEMU: same pid). */
  startQemu(): ChildProcess {
    const g = guestArtifacts().amd64;
    const argv = this.inHost([...this.client.registerPrefix(), 'qemu-system-x86_64', '-machine', 'accel=tcg', '-m', '96', '-display', 'none', '-serial', 'null', '-monitor', 'none', '-nodefaults', '-kernel', g.kernel, '-initrd', g.initrd, '-append', 'console=ttyS0 quiet']);
    const [cmd, ...args] = argv;
    const q = spawn(cmd!, args, { env: this.env, stdio: 'ignore', detached: true });
    this.qemus.push(q);
    return q;
  }

  /** Power loss: the sanlock daemon is frozen first, so it cannot release the lease when its QEMU dies (killed the
   *  other way round, the daemon could see its client go and release cleanly: seen once in a rehearsal). */
  kill(): void {
    if (this.daemon?.pid !== undefined) {
      try {
        process.kill(-this.daemon.pid, 'SIGSTOP');
      } catch {
        // gone already
      }
    }
    for (const p of [...this.qemus, this.daemon]) killTree(p);
  }
}

function killTree(p: ChildProcess | undefined): void {
  if (p?.pid === undefined) return;
  try {
    process.kill(-p.pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

/** nsenter (no pid namespace) and the helper exec: the QEMU's pid is the spawned process's, once it runs QEMU. */
async function qemuPid(p: ChildProcess): Promise<number> {
  return until('QEMU started', () => {
    try {
      return readFileSync(`/proc/${p.pid}/comm`, 'utf8').startsWith('qemu') ? p.pid : undefined;
    } catch {
      return undefined;
    }
  }, 30_000, 100);
}

/** Acquire for pid, retried while the holder's host is not yet known dead; the number of refusals seen. */
async function acquireWhenFree(host: Host, pid: number, res: LeaseResource): Promise<number> {
  let refusals = 0;
  await until(`${host.name} acquiring ${res.name}`, async () => {
    const rv = await host.client.acquire(pid, res);
    if (rv === 0) return true;
    assert.ok([SANLOCK_RV.ACQUIRE_OWNED_RETRY, SANLOCK_RV.ACQUIRE_IDLIVE, SANLOCK_RV.ACQUIRE_OWNED].includes(rv as never), `unexpected refusal ${rv}`);
    refusals++;
    return false;
  }, (hostDeadSeconds(IO_TIMEOUT_S) + 120) * 1000, 1000);
  return refusals;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let root: string;
let files: ReturnType<typeof leaseFiles>;
let daemon: TestDaemon;
let alice: ApiClient;
/** alice's home resource as the daemon's store gave it (found by the pool case, used by the standalone one). */
let aliceHome: LeaseResource | undefined;
const hosts: Host[] = [];
let a: Host; // the real daemon's host
let b: Host;
let c: Host;
let dead: Host; // the power-loss host
let powerLoss: Promise<{ refusals: number; holderGoneBefore: boolean; seconds: number }>;

before(async () => {
  root = diskFolder();
  chmodSync(root, 0o711); // QEMU's account passes through to the data folder
  const dataDir = join(root, 'data');
  mkdirSync(dataDir, { recursive: true });
  files = leaseFiles(dataDir);
  a = new Host('a', root, 0);
  b = new Host('b', root, 11);
  c = new Host('c', root, 12);
  dead = new Host('d', root, 13);
  hosts.push(a, b, c, dead);
  await Promise.all(hosts.map((h) => h.start()));
  // The real daemon on host a initialises the lockspace and joins it (its host id from the store).
  daemon = await TestDaemon.start({ dataDir, extraArgs: ['--home-leases', 'sanlock', '--lease-io-timeout', String(IO_TIMEOUT_S)], env: { SANLOCK_RUN_DIR: a.runDir } });
  await Promise.all([b, c, dead].map((h) => h.join(files)));
  // Hosts b and d as the daemon's store knows them: silent for minutes already (their agents are not part of this
  // bed), with their sanlock host ids; the daemon judges them by their storage lease as its sanlock daemon sees it.
  const db = await openStore(join(dataDir, 'ardesia.db'));
  try {
    const silentSince = new Date(Date.now() - 5 * 60_000).toISOString();
    for (const h of [b, dead]) {
      await db.insertInto('hosts').values({ name: h.name, state: 'up', memory_mib: 4096, vcpus: 2, memory_overcommit: 1.5, cpu_overcommit: 16, labels: '[]', labels_from: 'api', heartbeat_at: silentSince, agent_credential_sha256: null, cert_fingerprint: null, agent_report: null, agent_linked_at: null, created_at: silentSince, updated_at: silentSince }).execute();
      await db.insertInto('lease_host_ids').values({ host: h.name, host_id: h.hostId }).execute();
    }
    // Plain VMs recorded running on the power-loss host d and on the cut-off host b (host-loss-support.ts).
    for (const [name, host, restartOnHostLoss] of LOST_HOST_VMS) await db.insertInto('vms').values(runningVmRow(name, host, restartOnHostLoss, silentSince)).execute();
  } finally {
    await db.destroy();
  }
});

after(async () => {
  await daemon?.destroy();
  for (const h of hosts) h.kill();
  if (root) rmSync(root, { recursive: true, force: true });
});

test('power loss: another host gets the lease only after the dead host\'s lease expired (started first, awaited last)', async () => {
  const res = homeResource(files, 201, 'carol');
  await dead.client.initResource(res);
  const holder = await qemuPid(dead.startQemu());
  assert.equal(await dead.client.acquire(holder, res), 0);
  const taker = await qemuPid(c.startQemu());
  assert.notEqual(await c.client.acquire(taker, res), 0, 'refused while host d lives');
  // Silent, but renewing its storage lease: suspect, never down on network silence alone.
  const before = await until('host d judged by its storage lease', async () => {
    const h = await daemon.api().request<HostView>('GET', '/v1/hosts/d');
    return h.state === 'suspect' && /still renews its storage lease/.test(h.stateReason ?? '') ? h : undefined;
  }, 60_000, 500);
  assert.match(before.stateReason!, /no heartbeat for \d+ s, but it still renews its storage lease: cut off/);
  // Power loss: host d's sanlock daemon and its QEMU die at once (no watchdog here: the test kills the holder).
  dead.kill();
  const killedAt = Date.now();
  powerLoss = (async () => {
    const refusals = await acquireWhenFree(c, taker, res);
    return { refusals, holderGoneBefore: !alive(holder), seconds: (Date.now() - killedAt) / 1000 };
  })();
  powerLoss.catch(() => undefined); // awaited in the last test
});

test('two joins of one host at once: sanlock refuses the second while the first is under way (EINPROGRESS), which waits for it', async () => {
  const e = new Host('e', root, 14);
  hosts.push(e);
  await e.start();
  const joins = await Promise.allSettled([e.join(files), e.join(files)]);
  assert.deepEqual(joins.map((j) => j.status), ['fulfilled', 'fulfilled'], JSON.stringify(joins));
  const inq = spawnSync('sanlock', ['client', 'inq_lockspace', '-s', lockspaceText(files, 14)], { env: e.env, encoding: 'utf8' });
  assert.equal(inq.status, 0, inq.stdout + inq.stderr);
  spawnSync('sanlock', ['client', 'rem_lockspace', '-s', lockspaceText(files, 14)], { env: e.env });
  e.kill();
});

test('QEMU on host b holds alice\'s lease: host c is refused at once; b\'s QEMU exits → c acquires', async () => {
  const res = homeResource(files, 200, 'alice-bare');
  await b.client.initResource(res);
  const qb = b.startQemu();
  const holder = await qemuPid(qb);
  assert.equal(await b.client.acquire(holder, res), 0);
  assert.deepEqual((await b.client.inquire(holder)).map((r) => r.name), [res.name], 'sanlock says QEMU\'s pid holds it');
  const taker = await qemuPid(c.startQemu());
  const refused = await c.client.acquire(taker, res);
  assert.ok([SANLOCK_RV.ACQUIRE_IDLIVE, SANLOCK_RV.ACQUIRE_OWNED].includes(refused as never), `refused because host b lives (sanlock ${refused})`);
  // A launch through `register --acquire` on host c is refused before the exec: its own exit status, the program never runs.
  const ran = join(root, 'register-ran');
  const [cmd, ...args] = c.inHost([...c.client.registerPrefix([res]), 'touch', ran]);
  const launch = spawnSync(cmd!, args, { env: c.env, encoding: 'utf8' });
  assert.equal(launch.status, EXIT_REFUSED_BEFORE_EXEC, `exit status ${launch.status}: ${launch.stderr}`);
  assert.match(launch.stdout, /^sanlock -24[3-7]$/m);
  assert.equal(existsSync(ran), false, 'the program never ran');
  process.kill(holder, 'SIGTERM');
  await until('b\'s QEMU gone', () => !alive(holder), 30_000, 100);
  // The lease frees when the holder's pid exits; the acquire after it is granted (retried only across sanlock's async release).
  await until('c acquires after b\'s QEMU exited', async () => (await c.client.acquire(taker, res)) === 0, 30_000, 200);
  assert.deepEqual((await c.client.inquire(taker)).map((r) => r.name), [res.name]);
});

test('HomeLeases on host b: slot and resource made on first need, an attach retried by the same QEMU is idempotent, another QEMU is refused', async () => {
  const db = await openStore(':memory:');
  try {
    // This store is host b's view: its host id, and slots 0-9 left to the daemon's store sharing the lease file.
    await db.insertInto('lease_host_ids').values({ host: 'b', host_id: b.hostId }).execute();
    for (let slot = 0; slot < 10; slot++) await db.insertInto('home_leases').values({ user: `other${slot}`, slot, resource: `x${slot}`, ready: 1, generation: 0, holder_host: null, holder_desktop: null, holder_pid: null, acquired_at: null }).execute();
    const leases = new HomeLeases(db, pino({ level: 'silent' }), { dataDir: join(files.dir, '..'), host: 'b', ioTimeoutS: IO_TIMEOUT_S, env: b.env });
    assert.equal(await leases.start(), b.hostId);
    const first = await qemuPid(b.startQemu());
    assert.equal(await leases.acquire('zed', { desktop: 'p-1', pid: first }), 1);
    assert.equal(await leases.acquire('zed', { desktop: 'p-1', pid: first }), 1, 'the same QEMU again: held, same generation');
    const row = await db.selectFrom('home_leases').selectAll().where('user', '=', 'zed').executeTakeFirstOrThrow();
    assert.deepEqual([row.slot, row.holder_host, row.holder_pid], [10, 'b', first]);
    assert.deepEqual((await leases.inquire(first)).map((r) => [r.name, r.offset]), [[row.resource, 10 * 2 ** 20]]);
    const second = await qemuPid(b.startQemu());
    await assert.rejects(leases.acquire('zed', { desktop: 'p-2', pid: second }), (err: ArdesiaError) => err.code === 'HOME_LEASE_HELD');
    await leases.release('zed', { desktop: 'p-1', pid: first });
    assert.deepEqual(await leases.inquire(first), []);
    assert.equal(await leases.acquire('zed', { desktop: 'p-2', pid: second }), 2, 'the next holder, the next generation');
    process.kill(second, 'SIGKILL');
    await until('the second QEMU gone', () => !alive(second), 30_000, 100);
    assert.equal(await leases.acquire('zed', { desktop: 'p-1', pid: first }), 3, 'freed by sanlock when its holder died');
    await leases.release('zed', { desktop: 'p-1', pid: first });
  } finally {
    await db.destroy();
  }
});

test('through the daemon: a pool desktop\'s QEMU holds its user\'s home lease while attached, across a daemon crash; another host is refused; logoff releases it', async () => {
  await helperImage(daemon, 'bb');
  alice = await userClient(daemon, 'alice');
  await daemon.api().request('POST', '/v1/pools', { name: 'homes', image: 'bb', warmSpares: 1, maxDesktops: 1, memoryMiB: 192, homeSizeBytes: 64 * 2 ** 20, entitled: { users: ['alice'] } });
  await untilDesktops(daemon, 'homes', 'a warm spare', (d) => d.some((x) => x.state === 'ready'));
  const { desktop } = await alice.request<{ desktop: DesktopView; session: SessionInfo }>('POST', '/v1/pools/homes/connect', {});
  await untilDesktops(daemon, 'homes', 'the session', (d) => d.some((x) => x.name === desktop.name && x.state === 'in-use'));
  const [pid] = qemuPidsUnder(join(daemon.dataDir, 'runtime', desktop.name) + '/');
  assert.ok(pid, 'the desktop\'s QEMU runs');
  const held = await a.client.inquire(pid);
  assert.equal(held.length, 1, `QEMU ${pid} holds one lease: ${JSON.stringify(held)}`);
  assert.match(held[0]!.name, /^home\d+-alice$/);
  const res: LeaseResource = { lockspace: held[0]!.lockspace, name: held[0]!.name, path: held[0]!.path, offset: held[0]!.offset };
  assert.equal(res.path, files.homes);
  aliceHome = res;
  // Another host's desktop cannot take alice's home while this one has it.
  const other = await qemuPid(b.startQemu());
  const refused = await b.client.acquire(other, res);
  assert.ok([SANLOCK_RV.ACQUIRE_IDLIVE, SANLOCK_RV.ACQUIRE_OWNED].includes(refused as never), `host b refused (sanlock ${refused})`);
  const home = await daemon.api().request<HomeInfo>('GET', '/v1/homes/alice');
  assert.equal(home.leasedTo, desktop.name);
  assert.deepEqual([home.siteLease?.desktop, home.siteLease?.pid, home.siteLease?.generation], [desktop.name, pid, 1], 'the store records the holder and the generation');
  assert.match((await daemon.cli(['home', 'show', 'alice'])).stdout, new RegExp(`site lease \\(generation 1\\) held by desktop ${desktop.name} on host \\S+ \\(QEMU pid ${pid}\\)`));

  // A daemon crash drops nothing: the lease is QEMU's; the restarted daemon finds the desktop and releases by the recorded pid.
  await daemon.kill('SIGKILL');
  assert.equal((await a.client.inquire(pid)).length, 1, 'QEMU still holds the lease while the daemon is down');
  await daemon.spawn({ SANLOCK_RUN_DIR: a.runDir });
  await untilDesktops(daemon, 'homes', 'the session found again after the restart', (d) => d.some((x) => x.name === desktop.name && x.state === 'in-use'));

  await alice.request('POST', `/v1/sessions/${desktop.name}/logoff`);
  await untilDesktops(daemon, 'homes', 'the desktop released after logoff', (ds) => !ds.some((x) => x.user === 'alice'));
  if (alive(pid)) assert.deepEqual(await a.client.inquire(pid), [], 'the unplugged desktop\'s QEMU holds no lease');
  const released = await daemon.api().request<HomeInfo>('GET', '/v1/homes/alice');
  assert.deepEqual([released.siteLease?.host, released.siteLease?.desktop, released.siteLease?.generation], [null, null, 1]);
  await until('host b acquires alice\'s home once it is released', async () => (await b.client.acquire(other, res)) === 0, 30_000, 200);

  // Now host b's desktop has alice's home: her next login here is refused and the home is not attached.
  await untilDesktops(daemon, 'homes', 'a warm spare again', (d) => d.some((x) => x.state === 'ready'));
  await assert.rejects(
    alice.request('POST', '/v1/pools/homes/connect', { wait: true, waitSeconds: 120 }),
    // The connect answers with the lease's own code (its hint tells the user to wait), not a generic DESKTOP_FAILED.
    (err: ArdesiaError) => err.code === 'HOME_LEASE_HELD' && /still ending/.test(err.message),
  );
  const after = await daemon.api().request<HomeInfo>('GET', '/v1/homes/alice');
  assert.equal(after.leasedTo, null, 'the refused home is not leased (nor attached) here');
  assert.deepEqual([after.siteLease?.host, after.siteLease?.generation], [null, 1], 'a refusal is no acquisition');
  for (const p of qemuPidsUnder(join(daemon.dataDir, 'runtime') + '/')) assert.deepEqual(await a.client.inquire(p), [], `QEMU ${p} holds no lease`);
  assert.equal(await b.client.release(other, res), 0);
  killTree(b.qemus.find((q) => q.pid === other));
});

test('a standalone desktop\'s QEMU holds its home\'s lease from before it opens the disk: refused with nothing half-made while host b\'s desktop has the home, started once it ended', async () => {
  const res = aliceHome!;
  const desk = 'alice-own';
  const audit = async (action: string) => (await daemon.api().request<AuditEntry[]>('GET', `/v1/audit?action=${action}&limit=10000`)).filter((e) => e.target === 'alice').length;
  const leasesBefore = await audit('home.lease');
  await daemon.api().request('POST', '/v1/desktops', { name: desk, image: 'bb', home: 'alice' });
  const onB = await qemuPid(b.startQemu());
  assert.equal(await b.client.acquire(onB, res), 0, 'host b\'s desktop has alice\'s home');
  await assert.rejects(
    daemon.api().request('POST', `/v1/desktops/${desk}/start`),
    (err: ArdesiaError) => err.code === 'HOME_LEASE_HELD' && /still ending/.test(err.message),
  );
  assert.deepEqual(qemuPidsUnder(join(daemon.dataDir, 'runtime', desk) + '/'), [], 'no QEMU ran: refused before the exec');
  assert.equal((await daemon.api().request<DesktopInfo>('GET', `/v1/desktops/${desk}`)).state, 'stopped');
  const refused = await daemon.api().request<HomeInfo>('GET', '/v1/homes/alice');
  assert.equal(refused.leasedTo, null, 'the store\'s lease rolled back');
  assert.deepEqual([refused.siteLease?.host, refused.siteLease?.generation], [null, 1], 'a refusal is no acquisition');
  assert.equal(await audit('home.lease'), leasesBefore);

  // Host b's desktop ends: this one starts (retried only across sanlock's release of the exited pid).
  process.kill(onB, 'SIGTERM');
  await until('b\'s QEMU gone', () => !alive(onB), 30_000, 100);
  await until('the desktop started once b\'s lease was freed', () => daemon.api().request('POST', `/v1/desktops/${desk}/start`).then(() => true, (err: ArdesiaError) => {
    if (err.code !== 'HOME_LEASE_HELD') throw err;
    return false;
  }), 30_000, 500);
  const [pid] = qemuPidsUnder(join(daemon.dataDir, 'runtime', desk) + '/');
  assert.ok(pid, 'the desktop\'s QEMU runs');
  assert.deepEqual((await a.client.inquire(pid)).map((r) => [r.name, r.offset]), [[res.name, res.offset]], 'sanlock: the desktop\'s QEMU pid holds alice\'s home');
  const home = await daemon.api().request<HomeInfo>('GET', '/v1/homes/alice');
  assert.equal(home.leasedTo, desk);
  assert.deepEqual([home.siteLease?.desktop, home.siteLease?.pid, home.siteLease?.generation], [desk, pid, 2]);
  assert.match((await daemon.cli(['home', 'show', 'alice'])).stdout, new RegExp(`site lease \\(generation 2\\) held by desktop ${desk} on host \\S+ \\(QEMU pid ${pid}\\)`));
  assert.equal(await audit('home.lease'), leasesBefore + 1);
  const next = await qemuPid(b.startQemu());
  const refusedOnB = await b.client.acquire(next, res);
  assert.ok([SANLOCK_RV.ACQUIRE_IDLIVE, SANLOCK_RV.ACQUIRE_OWNED].includes(refusedOnB as never), `host b refused while the desktop runs (sanlock ${refusedOnB})`);

  // Stopped: QEMU's exit frees the lease, the store's holder is cleared, host b gets the home.
  await daemon.api().request('POST', `/v1/desktops/${desk}/stop`, { force: true });
  const stopped = await daemon.api().request<HomeInfo>('GET', '/v1/homes/alice');
  assert.deepEqual([stopped.leasedTo, stopped.siteLease?.desktop, stopped.siteLease?.generation], [null, null, 2]);
  await until('host b acquires alice\'s home after the stop', async () => (await b.client.acquire(next, res)) === 0, 30_000, 200);
  assert.equal(await b.client.release(next, res), 0);
  killTree(b.qemus.find((q) => q.pid === next));
});

test('a daemon with --home-leases sanlock and no sanlock daemon on its host refuses to start, saying how to start it', async () => {
  const dataDir = join(root, 'no-sanlock');
  const emptyRun = join(root, 'run-none');
  mkdirSync(emptyRun, { recursive: true });
  mkdirSync(dataDir, { recursive: true });
  const err = await TestDaemon.start({ dataDir, extraArgs: ['--home-leases', 'sanlock'], env: { SANLOCK_RUN_DIR: emptyRun } }).then(
    async (d) => {
      await d.destroy();
      return undefined;
    },
    (e: Error) => e,
  );
  assert.ok(err, 'the daemon did not start');
  assert.match(err.message, /the sanlock daemon is not running on this host/);
  assert.match(err.message, /systemctl start wdmd sanlock/, 'the hint of LEASE_DAEMON_UNAVAILABLE says how to start it');
});

test('power loss, the end: the lease moved only after host_dead_seconds, and nothing of the dead host runs', async (t) => {
  const { refusals, holderGoneBefore, seconds } = await powerLoss;
  // The daemon's view: host d is down once its storage lease expired (sanlock DEAD); host b, silent but alive on the
  // storage (a cut-off host), stays suspect; neither takes new desktops.
  const d = await until('host d down', async () => {
    const h = await daemon.api().request<HostView>('GET', '/v1/hosts/d');
    return h.state === 'down' ? h : undefined;
  }, 60_000, 500);
  assert.match(d.stateReason!, /storage lease has expired: it is dead/);
  assert.equal((await a.client.hostStates('ardesia')).get(dead.hostId), 'DEAD', 'host a\'s sanlock daemon says DEAD');
  const bView = await daemon.api().request<HostView>('GET', '/v1/hosts/b');
  assert.equal(bView.state, 'suspect');
  assert.match((await daemon.cli(['host', 'show', 'b'])).stdout, /why +no heartbeat for \d+ s, but it still renews its storage lease/);
  t.diagnostic(`host c acquired the dead host's lease ${seconds.toFixed(1)} s after the power loss (host_dead_seconds ${hostDeadSeconds(IO_TIMEOUT_S)}), after ${refusals} refusals`);
  assert.ok(refusals >= 1, 'host c was refused at least once after the power loss (the lease had not expired yet)');
  assert.ok(holderGoneBefore, 'the dead host\'s QEMU was gone before the lease moved');
  assert.equal(alive(dead.daemon.pid!), false, 'the dead host\'s sanlock daemon is gone');
  for (const q of dead.qemus) assert.equal(alive(q.pid!), false);
  await assertHostLossOutcome(daemon);
});
