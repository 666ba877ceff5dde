// Several `serve` on one PostgreSQL: this one stands by (its API answers CONTROLLER_STANDBY, naming the leader)
// until the leadership row's lease has expired, then leads with the next term; its store's connections carry
// that term, and a write the fence refuses, or a renewal that fails, makes it step down.
import { rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { ArdesiaError } from '../contract/errors.js';
import { ControllerLeadership, type ControllerIdentity } from '../cluster/controller-leadership.js';
import { DEFAULT_LEADERSHIP_TIMING, leadershipTiming, type LeadershipTiming } from '../cluster/leadership.js';
import { isDeposedError } from '../store/controller-fence.js';
import { openStore, type OpenStoreOptions, type Store, type StoreLocation } from '../store/db.js';
import { listenerStart, type ListenerOptions } from './listener.js';
import { type ServiceAddress, serviceAddressRelease } from './service-address.js';

/** Exit status of a controller that lost its term (systemd restarts it, and it stands by). */
export const EXIT_DEPOSED = 75;

export interface LeadOptions {
  url: string;
  me: ControllerIdentity;
  timing: LeadershipTiming;
  log: Logger;
  storeOptions: OpenStoreOptions;
  /** Where a standby answers: the API's unix socket and --listen. */
  socketPath: string;
  listen?: ListenerOptions;
  /** Held by the leader only: released before standing by, and when the term is lost. */
  serviceAddress?: ServiceAddress;
  /** Called once when the term is lost; the daemon's default exits with EXIT_DEPOSED. */
  onDeposed(reason: string): void;
}

export interface Leading {
  store: Store;
  leadership: ControllerLeadership;
}

export interface ControllerStoreOptions {
  hostName: string;
  listen?: ListenerOptions & { scheme: 'http' | 'https' };
  leaseMs: number | undefined;
  renewMs: number | undefined;
  log: Logger;
  storeOptions: OpenStoreOptions;
  socketPath: string;
  serviceAddress?: ServiceAddress;
  onDeposed: ((reason: string) => void) | undefined;
}

/** The daemon's store: SQLite's at once (one controller); PostgreSQL's once this controller leads, with its term. */
export async function controllerStoreOpen(at: StoreLocation, o: ControllerStoreOptions): Promise<{ store: Store; leading?: Leading }> {
  if (at.kind === 'sqlite') {
    o.log.info('SQLite store: this is the only controller (a standby needs --database postgres://…)');
    return { store: await openStore(at, o.storeOptions) };
  }
  const timing = leadershipTiming(o.leaseMs ?? DEFAULT_LEADERSHIP_TIMING.leaseMs, o.renewMs ?? DEFAULT_LEADERSHIP_TIMING.renewMs);
  // Listening on every address: others reach this controller by its host name.
  const bound = o.listen && ['0.0.0.0', '::', '[::]'].includes(o.listen.host) ? o.hostName : o.listen?.host;
  const host = bound?.includes(':') ? `[${bound}]` : bound;
  const leading = await leadOrStandBy({
    url: at.url,
    me: { holder: o.hostName, address: o.listen ? `${o.listen.scheme}://${host}:${o.listen.port}` : '' },
    timing,
    log: o.log,
    storeOptions: o.storeOptions,
    socketPath: o.socketPath,
    ...(o.listen ? { listen: o.listen } : {}),
    ...(o.serviceAddress ? { serviceAddress: o.serviceAddress } : {}),
    onDeposed: o.onDeposed ?? (() => process.exit(EXIT_DEPOSED)),
  });
  return { store: leading.store, leading };
}

/** Waits as standby until this controller leads, then opens the store with its term. */
export async function leadOrStandBy(opts: LeadOptions): Promise<Leading> {
  // The migrations first: the leadership row is one of their tables (a store without pending ones is left as is).
  await (await openStore({ kind: 'postgres', url: opts.url }, opts.storeOptions)).destroy();
  // A controller that died holding the service address must not answer for it while another leads.
  if (opts.serviceAddress) serviceAddressRelease(opts.serviceAddress, opts.log);
  const leadership = new ControllerLeadership(opts.url, opts.me, opts.timing, opts.log);
  let leader: { holder: string; address: string } | undefined;
  const standby = await standbyAnswer(opts.socketPath, opts.listen, () => leader);
  let term: number;
  try {
    term = await leadership.awaitLeadership((seen) => {
      leader = seen;
      opts.log.info({ leader: seen }, seen ? `standby controller: ${seen.holder} leads${seen.address ? ` at ${seen.address}` : ''}` : 'standby controller: no leader seen yet');
    });
  } finally {
    await standby.close();
  }
  opts.log.info({ term, holder: opts.me.holder }, `this controller leads (term ${term})`);
  let deposed = false;
  const stepDown = (reason: string) => {
    if (deposed) return;
    deposed = true;
    opts.log.error({ term, reason }, `this controller no longer leads: ${reason}; it stops acting`);
    if (opts.serviceAddress) serviceAddressRelease(opts.serviceAddress, opts.log);
    opts.onDeposed(reason);
  };
  const store = await openStore({ kind: 'postgres', url: opts.url }, {
    ...opts.storeOptions,
    controllerTerm: term,
    onQueryError: (err) => {
      if (isDeposedError(err)) stepDown(`the database refused a write of term ${term}`);
    },
  });
  leadership.startRenewing(stepDown);
  return { store, leadership };
}

/** The standby's API: every request is told who leads; nothing else runs until this controller leads. */
async function standbyAnswer(socketPath: string, listen: ListenerOptions | undefined, leader: () => { holder: string; address: string } | undefined): Promise<{ close(): Promise<void> }> {
  const answer = () => {
    const lead = leader();
    const err = new ArdesiaError('CONTROLLER_STANDBY', lead ? `this controller is a standby; the leader is ${lead.holder}${lead.address ? ` at ${lead.address}` : ' (which has no --listen address)'}` : 'this controller is a standby and no leader is known yet; it takes over once the last lease expires');
    return { status: err.status, body: JSON.stringify(err.toBody()), headers: { 'content-type': 'application/json; charset=utf-8', ...(lead?.address ? { 'x-ardesia-leader': lead.address } : {}) } };
  };
  const request = (req: IncomingMessage, res: ServerResponse) => {
    // A browser's page goes to the leader; the API (and health checks) get the error that names it.
    const lead = leader();
    const path = req.url ?? '/';
    if (lead?.address && (req.method === 'GET' || req.method === 'HEAD') && !path.startsWith('/v1/') && path !== '/healthz' && path !== '/metrics') {
      res.writeHead(307, { location: `${lead.address}${path}` }).end();
      return;
    }
    const a = answer();
    res.writeHead(a.status, a.headers).end(a.body);
  };
  // An agent's link (or a display's WebSocket) gets the same answer, then the connection ends.
  const upgrade = (_req: IncomingMessage, socket: Duplex) => {
    const a = answer();
    const head = Object.entries({ ...a.headers, 'content-length': String(Buffer.byteLength(a.body)), connection: 'close' }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.on('error', () => socket.destroy());
    socket.end(`HTTP/1.1 ${a.status} Service Unavailable\r\n${head}\r\n${a.body}`);
  };
  const unix = createServer(request);
  unix.on('upgrade', upgrade);
  rmSync(socketPath, { force: true });
  await new Promise<void>((ok, fail) => unix.once('error', fail).listen(socketPath, () => ok()));
  const tcp = listen ? await listenerStart(listen, { request, upgrade }) : undefined;
  return {
    close: async () => {
      await tcp?.close();
      unix.closeAllConnections();
      await new Promise((done) => unix.close(done));
      rmSync(socketPath, { force: true });
    },
  };
}
