// SPICE for a VM on an agent's host, through the controller: remote-viewer dials a TLS port of the controller (one per
// VM, opened at its first .vv and closed when the VM stops or moves), where Ardesia's SPICE certificate answers as QEMU's
// does on the controller's own host; each connection (SPICE opens one per channel) becomes a stream the VM's agent dials
// back to QEMU's SPICE server on its host's loopback. The password stays QEMU's own: one-time, set there by the agent.
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { ArdesiaError } from '../contract/errors.js';
import { socketPipe } from '../lib/ws-pipe.js';
import type { AgentStreams } from './agent-streams.js';

/** Connections one relay holds at once: a SPICE client opens one per channel (main, display, inputs, cursor, sound,
 *  USB redirection …, about a dozen); more are refused at once, so nobody unauthenticated has the agent dial without end. */
export const SPICE_RELAY_MAX_CONNECTIONS = 32;

interface Relay {
  host: string;
  server: Server;
  port: number;
  clients: Set<TLSSocket>;
}

export interface RemoteSpiceDeps {
  streams: Pick<AgentStreams, 'open'>;
  /** A one-time password set on the VM's QEMU by its agent (vm-command spice-login). */
  password(host: string, vm: string): Promise<string>;
  /** The address the relays listen on (serve --listen's host). */
  listenHost: string;
  /** The address a client dials (the service address, or the listen address or this host's name). */
  advertisedHost: string;
  /** QEMU's SPICE credentials folder (server-cert.pem, server-key.pem), made once (tls/certs.ts). */
  credentials(): Promise<string>;
  log: Logger;
}

export class RemoteSpice {
  private readonly relays = new Map<string, Promise<Relay>>();

  constructor(private readonly d: RemoteSpiceDeps) {}

  /** What a .vv needs for `vm` on `host`: a fresh one-time password (the VM's previous .vv stops working) and the relay. */
  async login(vm: string, host: string): Promise<{ host: string; tlsPort: number; password: string }> {
    const password = await this.d.password(host, vm);
    return { host: this.d.advertisedHost, tlsPort: await this.portFor(vm, host), password };
  }

  /** The controller's TLS port relaying to the SPICE server of `vm` on `host` (opened now if need be). */
  async portFor(vm: string, host: string): Promise<number> {
    const held = this.relays.get(vm);
    if (held) {
      const relay = await held.catch(() => undefined);
      if (relay?.host === host) return relay.port;
      this.close(vm, 'its VM moved');
    }
    const opening = this.open(vm, host);
    this.relays.set(vm, opening);
    opening.catch(() => this.relays.get(vm) === opening && this.relays.delete(vm));
    return (await opening).port;
  }

  /** The VM stopped or left: its port closes, its clients are cut. */
  close(vm: string, why: string): void {
    const held = this.relays.get(vm);
    if (!held) return;
    this.relays.delete(vm);
    void held.then((relay) => {
      relay.server.close();
      for (const c of relay.clients) c.destroy();
      this.d.log.info({ vm, port: relay.port }, `SPICE relay of vm ${vm} closed: ${why}`);
    }, () => undefined);
  }

  closeAll(): void {
    for (const vm of [...this.relays.keys()]) this.close(vm, 'the controller stops');
  }

  private async open(vm: string, host: string): Promise<Relay> {
    const dir = await this.d.credentials();
    const clients = new Set<TLSSocket>();
    const server = createServer({ cert: readFileSync(join(dir, 'server-cert.pem')), key: readFileSync(join(dir, 'server-key.pem')), minVersion: 'TLSv1.2', handshakeTimeout: 10_000 }, (client) => {
      clients.add(client);
      client.once('close', () => clients.delete(client));
      this.relay(vm, host, client);
    });
    server.maxConnections = SPICE_RELAY_MAX_CONNECTIONS;
    server.on('tlsClientError', (err) => this.d.log.debug({ vm, err: err.message }, 'a SPICE client failed its TLS handshake'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new ArdesiaError('DISPLAY_UNAVAILABLE', `the SPICE relay of vm ${vm} could not listen on ${this.d.listenHost}: ${err.message}`)));
      server.listen(0, this.d.listenHost, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    this.d.log.info({ vm, host, port }, `SPICE relay of vm ${vm} (on host ${host}) listens on ${this.d.listenHost}:${port}`);
    return { host, server, port, clients };
  }

  /** One SPICE channel: what the client sent before the agent dialled waits in the socket (not read until piped). */
  private relay(vm: string, host: string, client: TLSSocket): void {
    client.on('error', () => client.destroy());
    this.d.streams.open(host, vm, 'spice').then(
      (stream) => {
        if (client.destroyed) return void stream.terminate();
        socketPipe(stream, client);
        stream.resume();
      },
      (err: Error) => {
        this.d.log.warn({ vm, host, err: err.message }, `a SPICE channel of vm ${vm} could not reach host ${host}: ${err.message}`);
        client.destroy();
      },
    );
  }
}
