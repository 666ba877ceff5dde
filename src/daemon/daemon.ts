// `ardesia serve`: wires the store, host check, VM manager and API together, then listens on the
// root-only unix socket (and on HTTP when asked).
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pino, { type Logger } from 'pino';
import { ensureRootToken } from '../auth/tokens.js';
import type { Principal } from '../contract/users.js';
import { lookupAccount } from '../auth/unix-accounts.js';
import { ArdesiaError } from '../contract/errors.js';
import type { VmSpec } from '../contract/vm.js';
import { buildApi } from '../api/server.js';
import { apiSocketPermit, socketGroupId } from './api-socket.js';
import type { AppContext } from '../api/route.js';
import { hostCheck, TCG_WARNING, type HostReport } from '../hypervisor/host/index.js';
import { storeLocation, type OpenStoreOptions, type StoreLocation } from '../store/db.js';
import { controllerStoreOpen } from './controller-role.js';
import { VmManager } from '../vms/vm-manager.js';
import { ownerPolicyLoad } from '../vms/owner-files.js';
import { loadConfig } from './vm-conf-load.js';
import type { OwnerPolicy } from '../vms/owner-policy.js';
import { ServiceContext } from '../images/context.js';
import { ImageService } from '../images/service.js';
import { HomeService } from '../desktops/homes.js';
import { DesktopService } from '../desktops/service.js';
import { DesktopMachine } from '../desktops/pool-machine.js';
import { PoolService } from '../desktops/pools.js';
import { DesktopDisplayAccess } from '../desktops/display-access.js';
import { EventHub } from '../api/events.js';
import { publishAdminEvents, publishHostEvents, publishPoolEvents, publishThinClientEvents } from './live-events.js';
import { StandaloneDisplayAccess } from '../gateway/access.js';
import { authServicesCreate } from '../auth/index.js';
import { ThinClientService } from '../thinclients/inventory.js';
import { NetbootControl } from '../netboot/control.js';
import { DaemonMetrics } from '../api/metrics.js';
import { dataDirLock, type DataDirLock } from '../lib/data-dir-lock.js';
import { type ServiceAddress, serviceAddressParse, serviceAddressRelease, serviceAddressTake } from './service-address.js';
import { sessionsPrune } from '../auth/sessions.js';
import { loginTokensPrune } from '../auth/login-tokens.js';
import { type TrustedProxies, trustedProxiesParse } from '../api/request-guard.js';
import { displayTicketsOf } from '../gateway/tickets.js';
import { Housekeeping, HOUSEKEEPING_EVERY_MS } from './housekeeping.js';
import { directoryConfigLoad } from '../directory/config.js';
import { DirectoryService } from '../directory/service.js';
import { listenTlsPlan } from '../tls/listen-plan.js';
import type { ServeOptions } from './serve-options.js';
import { ardesiaCaPem, spiceCredentialsEnsure } from '../tls/certs.js';
import { type ListenAt, listenCertificate, listenOn, splitHostPort } from './listen-address.js';
import { advertisedHost } from '../gateway/spice.js';
import type { Listener } from './listener.js';
import { NatGuard } from '../network/nat-guard-host.js';
import { backupStream } from '../ops/backup.js';
import { auditAppend } from '../audit/log.js';
import { HomeLeases } from '../cluster/home-leases/service.js';
import { DEFAULT_CPU_OVERCOMMIT, DEFAULT_MEMORY_OVERCOMMIT, HostService } from '../cluster/hosts.js';
import { AgentJoin } from '../cluster/agent-join.js';
import { HostLossWatch } from '../cluster/host-loss-watch.js';
import { type FenceConfig, fenceConfigLoad, HostFencer } from '../cluster/host-fence.js';
import { imageChecksFor, localFilesFor } from '../cluster/image-checks.js';
import { ImageCopies } from '../cluster/image-copies.js';
import { RemoteSpice } from '../cluster/remote-spice.js';
import { RemoteVms } from '../cluster/remote-vms.js';
import { drainMovesAttach, VmMigrations } from '../cluster/vm-migrations.js';
import { LocalMigrationSide } from '../cluster/migration-sides.js';
import { AgentStreams } from '../cluster/agent-streams.js';
import { displayHopBinary } from '../gateway/display-hop.js';
import { RemoteDesktopVms } from '../cluster/remote-desktop-vms.js';
import { RemoteStates } from '../cluster/remote-states.js';
import { stateSealKey } from '../vms/vm-saved-state.js';
import { AgentLinks } from '../cluster/agent-links.js';
import { hostname } from 'node:os';
import { VmUids, vmUidRange } from '../vms/vm-uids.js';
import { systemTimeZone } from '../lib/local-time.js';

export interface Daemon {
  socketPath: string;
  url?: string;
  /** SHA-256 of the HTTPS certificate, when --listen serves HTTPS. */
  tlsFingerprint?: string;
  rootToken: string;
  manager: VmManager;
  log: Logger;
  close(): Promise<void>;
}

/** vm.conf `owner` names unix accounts: only root, an administrator or that unix account's token qualifies (never a web user of the same name). */
export function mayOperate(who: Principal | undefined, spec: VmSpec): boolean {
  if (who === undefined) return false;
  if (who.kind === 'root' || who.admin) return true;
  const account = who.kind === 'unix' ? who.unixAccount : undefined;
  if (account === undefined) return false;
  if (spec.owner?.user === account) return true;
  return spec.owner?.group !== undefined && (lookupAccount(account)?.groups.includes(spec.owner.group) ?? false);
}

/** The daemon's umask: files 0600 and folders 0700 unless created with another mode on purpose. */
export const DATA_UMASK = 0o077;

export async function startDaemon(opts: ServeOptions): Promise<Daemon> {
  const socketGid = opts.socketGroup === undefined ? undefined : socketGroupId(opts.socketGroup); // refused before anything starts
  const ownerPolicy = ownerPolicyLoad(opts.ownerPolicy === undefined ? undefined : resolve(opts.ownerPolicy)); // likewise
  const fenceConfig = opts.fenceConfig === undefined ? undefined : fenceConfigLoad(resolve(opts.fenceConfig)); // likewise
  const listenAt = opts.listen === undefined ? undefined : splitHostPort(opts.listen);
  const tlsPlan = listenAt ? listenTlsPlan(listenAt[0], opts.tls ?? {}) : undefined; // bad TLS flags too
  let trustedProxies: TrustedProxies;
  try {
    trustedProxies = trustedProxiesParse(opts.trustedProxies ?? []);
  } catch (err) {
    throw new ArdesiaError('BAD_REQUEST', `--trusted-proxy: ${(err as Error).message}`);
  }
  const dataDir = resolve(opts.dataDir);
  const storeAt = storeLocation(opts.database, dataDir); // a bad URL is refused before anything starts
  // Whatever the daemon (and the QEMUs it spawns) creates is owner-only unless a mode is given on purpose.
  process.umask(DATA_UMASK);
  mkdirSync(dataDir, { recursive: true, mode: 0o711 });
  chmodSync(dataDir, 0o711); // owners reach their token file; everything else inside is root-only
  // Before anything touches the store, the VMs or the socket: a second daemon would share all three.
  if (storeAt.kind === 'sqlite' && (opts.controllerLeaseMs !== undefined || opts.controllerRenewMs !== undefined || opts.serviceAddress !== undefined)) {
    throw new ArdesiaError('BAD_REQUEST', '--controller-lease, --controller-renew and --service-address need --database postgres://…: a SQLite store has one controller, with no standby to hand over to');
  }
  const serviceAddress = opts.serviceAddress ? serviceAddressParse(opts.serviceAddress.cidr, opts.serviceAddress.iface) : undefined;
  const runDir = resolve(opts.runDir ?? dataDir);
  mkdirSync(runDir, { recursive: true, mode: 0o711 });
  // SQLite: one process per data folder, whatever its run folder. PostgreSQL: one per host, the data folder shared.
  const lock = dataDirLock(storeAt.kind === 'sqlite' ? dataDir : runDir, 'ardesia serve');
  try {
    return await startDaemonLocked({ ...opts, runDir }, serviceAddress, dataDir, { lock, at: storeAt }, socketGid, ownerPolicy, trustedProxies, listenAt && tlsPlan ? { host: listenAt[0], port: listenAt[1], plan: tlsPlan } : undefined, fenceConfig);
  } catch (err) {
    lock.release();
    throw err;
  }
}

/** What the daemon holds for its life: the data folder's flock; where its store is. */
interface Holds {
  lock: DataDirLock;
  at: StoreLocation;
}

async function startDaemonLocked(opts: ServeOptions, serviceAddress: ServiceAddress | undefined, dataDir: string, holds: Holds, socketGid: number | undefined, ownerPolicy: OwnerPolicy, trustedProxies: TrustedProxies, listenAt: ListenAt | undefined, fenceConfig: FenceConfig | undefined): Promise<Daemon> {
  const log = pino({ level: opts.logLevel ?? 'info', base: { svc: 'ardesia' } });
  // The certificate before anything else starts: a bad one must fail the start, not the first client.
  const cert = await listenCertificate(dataDir, listenAt);
  const directoryFile = opts.directory === undefined ? undefined : directoryConfigLoad(resolve(opts.directory)); // every problem listed, before the store opens
  const storeOptions: OpenStoreOptions = { upgradeBackupDir: join(dataDir, 'store-backups'), onMigrated: (r) => log.info({ migrations: r.applied, backup: r.backup }, 'store upgraded') };
  const runDir = opts.runDir ?? dataDir;
  const socketPath = resolve(opts.socket ?? join(runDir, 'ardesia.sock'));
  // PostgreSQL may have several controllers: this one stands by until it leads, then writes with its term only.
  const tls = cert ? { cert: readFileSync(cert.certPath), key: readFileSync(cert.keyPath) } : undefined;
  const { store, leading } = await controllerStoreOpen(holds.at, {
    hostName: localHostName(opts.hostName),
    ...(listenAt ? { listen: { scheme: listenAt.plan.scheme, host: listenAt.host, port: listenAt.port, tls } } : {}),
    leaseMs: opts.controllerLeaseMs,
    renewMs: opts.controllerRenewMs,
    log,
    storeOptions,
    socketPath,
    ...(serviceAddress ? { serviceAddress } : {}),
    onDeposed: opts.onDeposed,
  });
  const hostReport = runHostCheck(log);
  const vmUids = new VmUids(vmUidRange(opts.vmUidBase));
  const natGuard = new NatGuard(runDir, { allowUnguarded: opts.allowUnguardedNat ?? false, vmUids: vmUids.range }, log);
  await natGuard.install(); // before any VM starts (reconcile, vm.conf autostart, pools)
  // A single host is a one-node cluster: its own host is registered (and heartbeated) before any VM is placed.
  const hosts = new HostService(store, log, {
    name: localHostName(opts.hostName),
    memoryOvercommit: opts.memoryOvercommit ?? DEFAULT_MEMORY_OVERCOMMIT,
    cpuOvercommit: opts.cpuOvercommit ?? DEFAULT_CPU_OVERCOMMIT,
    ...(opts.hostLabels !== undefined ? { labels: opts.hostLabels } : {}),
    ownQemu: async () => {
      const report = await hostReport;
      return { version: report.qemu.version, accel: report.accel };
    },
  });
  await hosts.register();
  // Remote agents (PostgreSQL only): tokens, and links that mark their hosts up; a removed host's link ends.
  const agentJoin = new AgentJoin(store, hosts.localName);
  const agentLinks = new AgentLinks(store, agentJoin, log, (host) => void hosts.announceChange(host).catch((err) => log.warn({ err, host }, 'announcing a host change failed')));
  await agentLinks.forgetStaleLinks();
  hosts.on('host-removed', (name) => agentLinks.revoke(name));
  // Joined before any QEMU starts: every QEMU is then a sanlock client a home's lease can be acquired for.
  const homeLeases = opts.homeLeases === 'sanlock' ? new HomeLeases(store, log, { dataDir, host: hosts.localName, ...(opts.leaseIoTimeoutS !== undefined ? { ioTimeoutS: opts.leaseIoTimeoutS } : {}) }) : undefined;
  await homeLeases?.start();
  if (homeLeases) hosts.watchStorage(() => homeLeases.hostStorage());
  if (fenceConfig) hosts.fenceWith(new HostFencer(fenceConfig, (host, detail) => auditAppend(store, 'controller', 'host.fence', host, detail), log));
  // VMs placed on a remote host run under its agent: desired state over its link, its reports kept with the VM.
  const remoteVms = new RemoteVms(store, agentLinks, hosts.localName, log, imageChecksFor(store, dataDir, log), localFilesFor(dataDir));
  const agentStreams = new AgentStreams(agentLinks, agentJoin, log);
  // Agents reach an HTTPS controller only: its certificate (the one they pin) is the native display hop's too.
  const hopBinary = displayHopBinary();
  if (tls && hopBinary.path) agentStreams.useDisplayHop({ binary: hopBinary.path, identityPem: Buffer.concat([tls.cert, Buffer.from('\n'), tls.key]) });
  else if (tls) log.warn(`displays on agents' hosts go through this process (WebSocket streams): ${hopBinary.why}`);
  const remoteDesktops = new RemoteDesktopVms(agentLinks, agentStreams, remoteVms, log);
  new ImageCopies(store, dataDir, agentLinks, agentStreams, log); // hosts without shared storage ask it for image files
  remoteVms.attachCommands(remoteDesktops);
  remoteVms.attachStates(new RemoteStates(remoteDesktops, agentStreams, () => stateSealKey(dataDir), log));
  if (homeLeases) {
    // Agents' hosts join the lockspace at their link and take their desktops' home leases through it.
    homeLeases.attachRemote(remoteDesktops);
    agentLinks.attachLeases((host) => homeLeases.agentSettings(host));
  }
  const manager = new VmManager({ dataDir, runDir, store, log, hostReport, ownerPolicy, natGuard, placer: hosts, vmUids, remote: remoteVms, ...(homeLeases ? { launchPrefix: homeLeases.registerPrefix() } : {}) });
  remoteVms.attachConfinement((principal) => manager.ownerConfined(principal));
  remoteVms.attachLocalRuntimes((name) => manager.runtimeOf(name));
  // A drain moves the host's running plain VMs to other agents' hosts by live migration.
  // SPICE to VMs on agents' hosts: a TLS relay per VM on the --listen address, closed when the VM stops.
  const remoteSpice = listenAt
    ? new RemoteSpice({ streams: agentStreams, password: (host, vm) => remoteVms.spiceLogin(host, vm), listenHost: listenAt.host, advertisedHost: serviceAddress?.address ?? advertisedHost(listenAt.host), credentials: () => spiceCredentialsEnsure(dataDir), log })
    : undefined;
  if (remoteSpice) remoteVms.onExit((vm) => remoteSpice.close(vm, 'the VM stopped'));
  const rootToken = await ensureRootToken(store, dataDir);

  const reconciled = await manager.reconcile();
  log.info(reconciled, 'reconciled VMs found in the runtime folders');

  const serviceContext = new ServiceContext({ dataDir, store, vms: manager, log });
  const images = new ImageService(serviceContext);
  log.info(await images.reconcile(), 'reconciled image leftovers');
  const homes = new HomeService(serviceContext, homeLeases);
  const desktops = new DesktopService(serviceContext, homes);
  log.info(await desktops.reconcile(), 'reconciled home-volume leases');
  const events = new EventHub();
  let directory: DirectoryService | undefined;
  // Always there: sources made in the console enable directory logins without a --directory file nor a restart.
  const auth = authServicesCreate(store, { tokenTtlMs: opts.tokenTtlMs, directory: { passwordLogin: (user, password) => directory!.passwordLogin(user, password) } });
  directory = new DirectoryService(auth.users, directoryFile, log, Date.now, opts.directory === undefined ? undefined : resolve(opts.directory), {
    secretDirs: ['/etc/ardesia/directory-secrets', join(dataDir, 'directory-secrets')],
    env: process.env,
  });
  const machine = new DesktopMachine(serviceContext, homes, {
    bootTimeoutMs: (opts.bootTimeoutSeconds ?? 600) * 1000,
    logoffTimeoutMs: 60_000,
    // A principal without an Ardesia account (a local unix user) has no layout of its own: the image's default.
    keyboardLayoutOf: async (user) => (await auth.users.row(user))?.keyboard_layout,
    remoteVmOf: async (name) => {
      const host = await manager.remoteHostOf(name);
      const pid = host === undefined ? null : (await manager.get(name)).pid;
      return host === undefined || pid === null ? undefined : remoteDesktops.vm(name, host, pid);
    },
  });
  remoteVms.onLateStart((name) => void machine.remoteVmStartedLate(name).catch((err: Error) => log.warn({ err, desktop: name }, `following the guest of ${name} failed: ${err.message}`)));
  // A drain moves the host's running plain VMs and persistent desktops to other agents' hosts by live migration.
  const migrations = new VmMigrations({
    db: store,
    streams: agentStreams,
    commands: remoteDesktops,
    remote: remoteVms,
    log,
    place: (need, from, onto) => hosts.placeMigration(need, from, onto),
    local: new LocalMigrationSide(manager, homeLeases?.sanlock, log),
    desktops: { moving: (desktop, move) => machine.movingLive(desktop, move), arrived: (desktop, record) => machine.arrivedLive(desktop, record), lostWith: (desktop, host, record) => machine.lostWithHost(desktop, host, record) },
    ...(homeLeases ? { leaseLastTakenBy: (lease) => homeLeases.lastTakenBy(lease.resource) } : {}),
  });
  drainMovesAttach(hosts, migrations, log);
  // The VMs of a host judged down, after each heartbeat: plain ones restarted elsewhere (restart-on-host-loss) or
  // recorded lost; pool desktops recorded lost and handed to their pools, which re-serve their users.
  // A move this controller stopped in whose destination is down: settled first (the source runs on, or the VM is lost).
  new HostLossWatch(store, hosts, manager, log, (desktop, reason) => machine.hostLost(desktop, reason), (rec, why) => migrations.destinationDown(rec, why)).attach();
  // A host's link gone silent: connects waiting there broker another desktop, its desktops without a session let go.
  agentLinks.onLinkLost((host, how) => {
    if (how === 'silent') void machine.hostUnreachable(host).catch((err) => log.warn({ err, host }, 'letting go of the desktops of a silent host failed'));
  });
  const pools = new PoolService(serviceContext, machine, { bootStormLimit: opts.bootStormLimit ?? 2, placement: hosts, timeZone: opts.timeZone ?? systemTimeZone(), cutOffHosts: () => agentLinks.cutOffHosts(), notReadyHosts: () => agentLinks.notReadyHosts() });
  // A drain stops the host's spares now; an undrain boots them back: every pool is planned again.
  hosts.on('host', () => void pools.planner.tickAll());
  publishHostEvents(events, hosts);
  images.addDependantSource((image, version) => pools.poolsUsingImage(image, version));
  publishPoolEvents(events, pools, machine);
  publishAdminEvents(events, images.operations);
  const thinClients = new ThinClientService(store, dataDir, log);
  pools.on('thin-client', (mac, user) => void thinClients.recordSession(mac, user).catch((err) => log.warn({ err, mac }, 'recording the thin client session failed')));
  publishThinClientEvents(events, thinClients);
  log.info(await pools.reconcile(), 'reconciled pool desktops');

  let configPath = opts.config ? resolve(opts.config) : undefined;
  const netboot = new NetbootControl(opts.netboot, log);
  const app: AppContext = {
    vms: manager,
    netboot,
    hostReport,
    mayOperate,
    images,
    homes,
    desktops,
    pools,
    hosts,
    agents: { join: agentJoin, links: agentLinks, streams: agentStreams, migrations, ...(remoteSpice ? { spice: remoteSpice } : {}) },
    events,
    display: new DesktopDisplayAccess(pools, new StandaloneDisplayAccess({ desktops, vms: manager, mayOperate, log })),
    ...auth,
    metrics: new DaemonMetrics({ store, pools, ksm: () => hosts.localKsm(), ...(leading ? { controller: () => controllerTermOf(hosts.localName, leading.leadership.currentTerm) } : {}) }),
    directory,
    thinClients,
    tls: {
      https: cert ? { fingerprint: cert.fingerprint, subject: cert.subject, caPem: cert.caPath ? readFileSync(cert.caPath, 'utf8') : undefined } : undefined,
      spiceCaPem: () => ardesiaCaPem(dataDir),
    },
    backup: async (req, principal) => {
      const stream = await backupStream({
        dataDir,
        store,
        storeAt: holds.at,
        // A pool desktop's plugged home: QEMU copies it (blockdev-backup); a standalone desktop's home drive is refused.
        homeInUseCopy: async (user, desktop, target, sizeBytes) => {
          if (await machine.homeCopy(desktop, target, sizeBytes)) return;
          throw new ArdesiaError('BACKUP_HOME_IN_USE', `the home of ${user} is leased to desktop ${desktop}, which is not a running pool desktop with its home plugged in (a standalone desktop, or one starting or stopping); stop that desktop, or back up without --with-homes`);
        },
      }, req, dataDir, (err) => (err ? log.warn({ err }, 'backup stream failed') : log.info(req, 'backup streamed')));
      await auditAppend(store, principal, 'site.backup', 'site', req);
      return stream;
    },
    configLoad: async (path) => {
      configPath = resolve(path);
      return loadConfig(store, manager, dataDir, configPath, { reload: false, startAllEnabled: false }, log);
    },
    configReload: async () => {
      if (!configPath) throw new ArdesiaError('BAD_REQUEST', 'no configuration file was loaded; use `ardesia vm load FILE` first');
      return loadConfig(store, manager, dataDir, configPath, { reload: true, startAllEnabled: false }, log);
    },
  };
  app.metrics.observeLogins(app.login);
  if (configPath) {
    // As vmd at boot: enabled VMs start, except those that just died while we were away (reported instead).
    const died = new Set(reconciled.died);
    const res = await loadConfig(store, manager, dataDir, configPath, { reload: false, startAllEnabled: true, except: died }, log);
    log.info(res, `loaded ${configPath}`);
  }

  const api = await buildApi({ app, store, logger: false, log, trustedProxies });
  if (existsSync(socketPath)) rmSync(socketPath);
  await api.listen({ path: socketPath });
  apiSocketPermit(socketPath, socketGid);
  let url: string | undefined;
  let tcp: Listener | undefined;
  if (listenAt) {
    tcp = await listenOn(listenAt, cert, { request: (req, res) => api.server.emit('request', req, res), upgrade: (req, socket, head) => api.server.emit('upgrade', req, socket, head) }, log);
    url = tcp.url;
    if (cert) agentJoin.setEndpoint({ url: tcp.url, fingerprint: cert.fingerprint });
  }
  await netboot.start({ store, dataDir, log, thinClients: app.thinClients, url, servedCaPem: cert?.caPath ? readFileSync(cert.caPath, 'utf8') : undefined });
  pools.start();
  hosts.start();
  const housekeeping = new Housekeeping([
    { name: 'sessionsPruned', run: () => sessionsPrune(store) },
    { name: 'loginTokensPruned', run: () => loginTokensPrune(store) },
    { name: 'displayTicketsSwept', run: () => displayTicketsOf(app.display).sweep() },
    { name: 'templateBuildsRemoved', run: () => pools.templatesCollect() },
  ], log, HOUSEKEEPING_EVERY_MS);
  housekeeping.start();
  directory.start();
  // Once it serves: the first client the address brings here is answered.
  if (serviceAddress && leading) await serviceAddressTake(serviceAddress, log);
  log.info({ socketPath, url, dataDir, tlsFingerprint: cert?.fingerprint }, 'ardesia daemon listening');

  return {
    socketPath,
    url,
    tlsFingerprint: cert?.fingerprint,
    rootToken,
    manager,
    log,
    close: async () => {
      // A step that holds the stop up is said, so a slow Ctrl+C has a name.
      const timed = async (what: string, step: () => Promise<unknown> | unknown) => {
        const t0 = Date.now();
        await step();
        const ms = Date.now() - t0;
        if (ms >= SLOW_STOP_STEP_MS) log.warn({ step: what, ms }, `stopping the daemon: ${what} took ${ms} ms`);
      };
      agentLinks.closeAll();
      remoteSpice?.closeAll();
      await timed('the TCP listener', () => tcp?.close());
      await timed('netboot', () => netboot.close());
      await timed('the pools', () => pools.close());
      hosts.stop();
      await timed('housekeeping', () => housekeeping.close());
      await timed('the directory', () => directory.close());
      await timed('the API', () => api.close());
      const outliving = opts.stopVmsOnExit ? 0 : manager.runningCount;
      await timed('the VMs', () => manager.shutdown(opts.stopVmsOnExit ?? false));
      await natGuard.remove(outliving);
      await store.destroy();
      if (serviceAddress) serviceAddressRelease(serviceAddress, log); // before the lease ends: the next leader takes it
      await leading?.leadership.stop(); // after the last write: the next controller may lead at once
      holds.lock.release();
    },
  };
}

/** A step of the daemon's stop taking this long is logged with its name. */
const SLOW_STOP_STEP_MS = 1000;

async function runHostCheck(log: Logger): Promise<HostReport> {
  const report = await hostCheck();
  if (report.accel === 'tcg') log.warn({ probe: report.probe }, `KVM is not usable here; VMs run under TCG. ${TCG_WARNING}`);
  else log.info({ probe: report.probe }, 'KVM probe passed; VMs run under KVM');
  return report;
}

/** The name this host goes by: --host-name, else the machine's hostname (its first label kept whole, lower case). */
function localHostName(given: string | undefined): string {
  return (given ?? hostname()).toLowerCase();
}

function controllerTermOf(holder: string, term: number | undefined): { holder: string; term: number } | undefined {
  return term === undefined ? undefined : { holder, term };
}
