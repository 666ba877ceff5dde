// `ardesia serve`: the daemon in the foreground (systemd runs it so; npm start too).
import { type Command, Option } from 'commander';
import { type GlobalOptions, resolveDataDir, resolveRunDir } from '../client.js';
import { duration, flag, listenAddress, LOG_LEVELS, oneOf, positiveInt, ratio, timeZoneFlag, wholeNumber } from '../options.js';
import { HostLabel, HostName } from '../../contract/hosts.js';
import { InvalidArgumentError } from 'commander';
import { DEFAULT_VM_UID_BASE, VM_UID_COUNT } from '../../vms/vm-uids.js';

const MAX_BOOT_STORM_LIMIT = 1000;

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the daemon: VMs, the API on a root-only unix socket, and HTTPS (or loopback HTTP) with --listen')
    .option('--listen <addr:port>', 'also serve the API and web app here: HTTPS off loopback, HTTP on loopback (e.g. 127.0.0.1:8080)', listenAddress)
    .option('--tls', 'HTTPS with the certificate Ardesia makes (DATA_DIR/tls), on loopback too')
    .option('--tls-cert <file>', 'HTTPS with this PEM certificate (chain) instead of the one Ardesia makes')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .option('--insecure-http', 'plain HTTP off loopback: passwords and tokens cross the network in clear (never on a shared network)')
    .option('--config <file>', 'vm.conf (or .yaml/.json) to load at start, as vmd reads /etc/vm.conf')
    .option('--netboot <file>', 'netboot configuration (YAML/JSON): DHCP, TFTP and HTTP boot of thin clients (docs/netboot.md)')
    .addOption(flag('--boot-storm-limit <n>', 'desktops starting at once, over every pool', positiveInt(MAX_BOOT_STORM_LIMIT), '2'))
    .addOption(flag('--boot-timeout <seconds>', 'a desktop not ready this long after its start has failed (or 10m, 1h)', duration({ bareUnit: 's', minMs: 1_000, maxMs: 86_400_000 }), '600'))
    .addOption(flag('--time-zone <zone>', 'the IANA time zone pool spare schedules are read in, like Europe/Paris (default: the host\'s, or $TZ)', timeZoneFlag))
    .option('--directory <file>', 'directory sources (YAML/JSON): logins from OpenLDAP and Active Directory (README "Directory logins")')
    .option('--socket-group <group>', 'let this group connect to the unix socket (0660; each request still needs a token)')
    .option('--owner-policy <file>', 'what VM owners who are not administrators may use: folders, taps, bridges, caps (YAML/JSON; docs/security/20-owners.md)')
    .option('--trusted-proxy <addr>', 'a reverse proxy (address or IPv4 CIDR, repeatable) whose X-Forwarded-For names the client; none by default', (v: string, all: string[] = []) => [...all, v])
    .addOption(flag('--token-ttl <duration>', 'how long a login token (`ardesia login`) lives: seconds, or with a unit like 12h or 720h', duration({ bareUnit: 's', minMs: 60_000, maxMs: 366 * 86_400_000 }), '720h'))
    .addOption(new Option('--database <sqlite|postgres://…>', 'the store: sqlite (DATA_DIR/ardesia.db, the default) or a PostgreSQL URL, postgres://USER@HOST[:PORT]/DATABASE').env('ARDESIA_DATABASE'))
    .addOption(flag('--host-name <name>', "this host's name in the cluster (default: the machine's hostname)", hostNameFlag))
    .option('--host-label <label>', 'a label of this host that pools may require or avoid (repeatable), like ssd or rack=a', (v: string, all: string[] = []) => [...all, hostLabelFlag(v)])
    .addOption(flag('--memory-overcommit <ratio>', "guest memory this host may promise, as a multiple of its memory after a reserve (1 = none)", ratio(0.1, 10), '1.5'))
    .addOption(flag('--cpu-overcommit <ratio>', 'guest vCPUs per host CPU', ratio(0.1, 64), '16'))
    .addOption(flag('--home-leases <mode>', 'never two writers on a home across hosts: sanlock (a lease per home held by the QEMU that has it attached; needs a sanlock daemon on every host, README "Several hosts") or off', oneOf(['off', 'sanlock'] as const), 'off'))
    .addOption(flag('--lease-io-timeout <seconds>', "sanlock's io timeout for the site lockspace: a dead host's home leases free after 8 × this + 60 s", wholeNumber(1, 60), '10'))
    .addOption(flag('--controller-lease <duration>', 'PostgreSQL, several serve: how long the leader\'s lease lasts without renewal before a standby takes over (default 15s)', duration({ bareUnit: 's', minMs: 1_000, maxMs: 600_000 })))
    .option('--fence-config <file>', 'power fencing: host name → fence agent command (JSON, root-owned); a silent host that renews no storage lease is powered off, and down once its device confirms it off (README "Several hosts")')
    .option('--service-address <addr/prefix>', 'PostgreSQL, several serve: an IPv4 address only the leader holds (added to --service-interface, announced by ARP), so clients keep one URL through a takeover; listen on 0.0.0.0')
    .option('--service-interface <iface>', 'the interface that carries --service-address (like eth0 or br0)')
    .addOption(flag('--controller-renew <duration>', 'PostgreSQL, several serve: how often the leader renews its lease, at most half the lease (default 5s)', duration({ bareUnit: 's', minMs: 200, maxMs: 300_000 })))
    .option('--stop-vms-on-exit', 'stop every VM when the daemon stops (default: they keep running)')
    .option('--allow-unguarded-nat', 'start user-mode NAT VMs even if the NAT guard (nftables) cannot be installed: their guests then reach this host\'s loopback and ports')
    .addOption(flag('--vm-uid-base <uid>', 'the first of the 65536 uids QEMU runs as, one per running VM (no passwd entry may use them)', wholeNumber(1000, 0xffff_fffe - VM_UID_COUNT), String(DEFAULT_VM_UID_BASE)))
    .addOption(flag('--log-level <level>', LOG_LEVELS.join(', '), oneOf(LOG_LEVELS), 'info'))
    .action(async (flags: { listen?: string; tls?: boolean; tlsCert?: string; tlsKey?: string; insecureHttp?: boolean; config?: string; netboot?: string; stopVmsOnExit?: boolean; allowUnguardedNat?: boolean; vmUidBase?: number; logLevel: string; bootStormLimit: number; bootTimeout: number; socketGroup?: string; ownerPolicy?: string; trustedProxy?: string[]; tokenTtl: number; database?: string; hostName?: string; hostLabel?: string[]; memoryOvercommit: number; cpuOvercommit: number; directory?: string; timeZone?: string; homeLeases: 'off' | 'sanlock'; leaseIoTimeout: number; controllerLease?: number; controllerRenew?: number; serviceAddress?: string; serviceInterface?: string; fenceConfig?: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      // Loaded on demand: the daemon's dependencies would slow every other command's start-up.
      const { startDaemon } = await import('../../daemon/daemon.js');
      const daemon = await startDaemon({
        dataDir: resolveDataDir(g),
        runDir: resolveRunDir(g),
        socket: g.socket,
        listen: flags.listen,
        tls: { tls: flags.tls, tlsCert: flags.tlsCert, tlsKey: flags.tlsKey, insecureHttp: flags.insecureHttp },
        config: flags.config,
        netboot: flags.netboot,
        directory: flags.directory,
        socketGroup: flags.socketGroup,
        ownerPolicy: flags.ownerPolicy,
        trustedProxies: flags.trustedProxy,
        tokenTtlMs: flags.tokenTtl,
        database: flags.database,
        hostName: flags.hostName,
        hostLabels: flags.hostLabel,
        memoryOvercommit: flags.memoryOvercommit,
        cpuOvercommit: flags.cpuOvercommit,
        homeLeases: flags.homeLeases,
        leaseIoTimeoutS: flags.leaseIoTimeout,
        ...(flags.fenceConfig !== undefined ? { fenceConfig: flags.fenceConfig } : {}),
        controllerLeaseMs: flags.controllerLease,
        ...(flags.serviceAddress !== undefined || flags.serviceInterface !== undefined ? { serviceAddress: { cidr: flags.serviceAddress ?? '', iface: flags.serviceInterface } } : {}),
        controllerRenewMs: flags.controllerRenew,
        stopVmsOnExit: flags.stopVmsOnExit,
        allowUnguardedNat: flags.allowUnguardedNat,
        vmUidBase: flags.vmUidBase,
        bootStormLimit: flags.bootStormLimit,
        timeZone: flags.timeZone,
        bootTimeoutSeconds: flags.bootTimeout / 1000,
        logLevel: flags.logLevel,
      });
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        daemon.log.info({ signal }, 'stopping the daemon');
        void daemon.close().then(() => process.exit(0));
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}

function hostNameFlag(text: string): string {
  const parsed = HostName.safeParse(text);
  if (!parsed.success) throw new InvalidArgumentError(`Accepted: ${parsed.error.issues[0]?.message ?? 'a host name'}.`);
  return parsed.data;
}

function hostLabelFlag(text: string): string {
  const parsed = HostLabel.safeParse(text);
  if (!parsed.success) throw new InvalidArgumentError(`Accepted: ${parsed.error.issues[0]?.message ?? 'a label'}.`);
  return parsed.data;
}
