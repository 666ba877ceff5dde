// Netboot as a service of the daemon (or of `ardesia netboot serve`): per configured interface a
// DHCP server (full or proxy, leases in the store) and a TFTP server; the HTTP boot routes are
// registered on the daemon's HTTP listener (src/netboot/http/boot-routes.ts).
import { ArdesiaError } from '../contract/errors.js';
import type { Store } from '../store/db.js';
import type { ThinClientService } from '../thinclients/inventory.js';
import { type NetbootConfig, dhcpConfigFor } from './config.js';
import { probeForDhcpServer } from './dhcp/probe.js';
import { DhcpServer } from './dhcp/server.js';
import { SqliteLeaseStore } from './dhcp/store-leases.js';
import { RouterAdvertiser } from './ra/responder.js';
import { prepareTftpRoot } from './tftp-root.js';
import { TftpServer } from './tftp/server.js';

export type NetbootEventLog = (event: Record<string, unknown>) => void;

export interface NetbootDeps {
  store: Store;
  dataDir: string;
  log: NetbootEventLog;
  /** The daemon's HTTP port: iPXE's script URL when an interface names none. */
  httpPort?: number;
  /** Receives the configuration's thin-client settings (requireApproval). */
  thinClients?: ThinClientService;
}

export interface NetbootHandle {
  servers: { dhcp: DhcpServer[]; tftp: TftpServer[]; ra?: RouterAdvertiser };
  leases: SqliteLeaseStore;
  close(): Promise<void>;
}

export async function startNetboot(config: NetbootConfig, deps: NetbootDeps): Promise<NetbootHandle> {
  const { log } = deps;
  deps.thinClients?.configure({ requireApproval: config.thinClients.requireApproval });
  const dhcpConfigs = config.interfaces.map((iface) => {
    const dhcp = dhcpConfigFor(iface, deps.httpPort);
    if (!dhcp.ipxeHttp) throw new ArdesiaError('NETBOOT_CONFIG_INVALID', `interface ${iface.address}: iPXE needs the HTTP boot address; set http.port in the netboot configuration or run the daemon with --listen`);
    return dhcp;
  });
  // Probe before binding anything: a refused start leaves nothing behind.
  for (const [i, iface] of config.interfaces.entries()) {
    if (iface.mode !== 'full' || iface.force) continue;
    const probe = await probeForDhcpServer(iface.address);
    log({ event: 'dhcp-probe', interface: iface.address, ...probe });
    if (probe.found) {
      throw new ArdesiaError('NETBOOT_DHCP_CONFLICT', `interface ${iface.address} (interfaces.${i}): another DHCP server (${probe.serverId}, from ${probe.from}) answers on this network; full mode refuses to start beside it`);
    }
  }
  const leases = await SqliteLeaseStore.open(deps.store, { log });
  const handle: NetbootHandle = {
    servers: { dhcp: [], tftp: [] },
    leases,
    close: async () => {
      for (const server of handle.servers.dhcp.splice(0)) server.close();
      for (const server of handle.servers.tftp.splice(0)) server.close();
      handle.servers.ra?.close();
      await leases.flush();
    },
  };
  try {
    for (const [i, iface] of config.interfaces.entries()) {
      const dhcp = dhcpConfigs[i]!;
      if (iface.tftp.enabled) {
        const prepared = prepareTftpRoot(deps.dataDir, dhcp, config.ipxeDir);
        if (prepared.missing.length > 0) log({ event: 'tftp-ipxe-missing', missing: prepared.missing, hint: 'install the Debian package ipxe' });
        handle.servers.tftp.push(await TftpServer.start({ root: prepared.root, address: iface.address, port: iface.tftp.port, workers: iface.tftp.workers, maxTransfersPerClient: iface.tftp.perClient, log }));
      }
      handle.servers.dhcp.push(await DhcpServer.start({ config: dhcp, leases, log }));
    }
    // Full mode owns the link's boot: tell PXE clients at once that there is no IPv6 to configure.
    handle.servers.ra = RouterAdvertiser.start(config.interfaces.filter((i) => i.mode === 'full').map((i) => i.address), log);
  } catch (err) {
    await handle.close();
    throw err;
  }
  log({ event: 'netboot-ready', interfaces: config.interfaces.map((i) => `${i.address} (${i.mode})`) });
  return handle;
}
