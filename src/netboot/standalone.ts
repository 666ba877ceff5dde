// `ardesia netboot serve --config FILE`: DHCP, TFTP and the HTTP boot chain without the rest of
// the daemon (a boot server on its own machine or network), on the same store and data folder.
import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import Fastify from 'fastify';
import pino from 'pino';
import { ArdesiaError, errorForUser, errorRef } from '../contract/errors.js';
import { openStore } from '../store/db.js';
import { dataDirLock } from '../lib/data-dir-lock.js';
import { ThinClientService } from '../thinclients/inventory.js';
import { loadNetbootConfig, standaloneListenDefault } from './config.js';
import { registerBootRoutes } from './http/boot-routes.js';
import { startNetboot } from './service.js';

export interface StandaloneOptions {
  dataDir: string;
  configPath: string;
  /** ADDR:PORT for HTTP boot; default 0.0.0.0 and the first interface's http.port (else 8080). */
  listen?: string;
  logLevel?: string;
}

export async function runStandaloneNetboot(opts: StandaloneOptions): Promise<{ url: string; close(): Promise<void> }> {
  const config = loadNetbootConfig(opts.configPath);
  const dataDir = resolve(opts.dataDir);
  process.umask(0o077); // as the daemon (DATA_UMASK): nothing it makes in the data folder is readable by others
  mkdirSync(dataDir, { recursive: true, mode: 0o711 });
  // The daemon's own lock: a daemon on this folder runs its netboot itself (`serve --netboot`).
  const lock = dataDirLock(dataDir, 'ardesia netboot serve');
  const log = pino({ level: opts.logLevel ?? 'info', base: { svc: 'ardesia-netboot' } });
  const store = await openStore(join(dataDir, 'ardesia.db')).catch((err: unknown) => {
    lock.release();
    throw err;
  });
  const thinClients = new ThinClientService(store, dataDir, log);
  const http = Fastify({ logger: false });
  http.setErrorHandler((err: Error, _req, reply) => {
    const ref = errorRef();
    const known = errorForUser(err, ref);
    if (!(err instanceof ArdesiaError)) log.error({ err, ref }, `unexpected failure (reference ${ref})`);
    void reply.status(known.status).send(known.toBody());
  });
  registerBootRoutes(http, thinClients);
  const [host, port] = (opts.listen ?? standaloneListenDefault(config)).split(':');
  try {
    await http.listen({ host, port: Number(port) });
    const addr = http.server.address() as AddressInfo;
    const netboot = await startNetboot(config, { store, dataDir, thinClients, httpPort: addr.port, log: (e) => log.info(e, String(e.event)) });
    const url = `http://${addr.address}:${addr.port}`;
    log.info({ url, dataDir }, 'ardesia netboot listening');
    return {
      url,
      close: async () => {
        await netboot.close();
        await http.close();
        await store.destroy();
        lock.release();
      },
    };
  } catch (err) {
    await http.close();
    await store.destroy();
    lock.release();
    throw err;
  }
}
