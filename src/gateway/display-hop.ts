// The display's hop between the controller's host and an agent's host in native processes (native/display-hop.c):
// TLS in OpenSSL, bytes never through either Node event loop. The controller's end listens on the address the agent's
// link came in on, for one connection that completes TLS with the controller's certificate and sends the stream's
// one-time secret; its other side is a socket pair whose second end becomes the display pipe's "VNC socket", so the
// display relay (relay.ts) carries on to the browser as on a single host. The agent's end dials it, checks the
// certificate against the fingerprint its join token pinned before it sends anything, and pipes to the VNC socket.
import { type ChildProcess, spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import { ArdesiaError } from '../contract/errors.js';
import { helperEnv } from '../lib/unprivileged-account.js';
import { fingerprintParse } from '../tls/fingerprint.js';
import { drainAndDetach } from './relay.js';
import { nativeHelper } from '../lib/native-helper.js';


/** The hop (native/display-hop.c); ARDESIA_DISPLAY_HOP overrides, "off" disables it (the WebSocket stream then). Without a path, `why` says why. */
export function displayHopBinary(env: NodeJS.ProcessEnv = process.env): { path?: string; why?: string } {
  return nativeHelper('display-hop', 'ARDESIA_DISPLAY_HOP', env);
}

/** One status line of the hop (native/display-hop.c's header says which). */
export type HopStatus =
  | { kind: 'listening'; port: number }
  | { kind: 'claimed' }
  | { kind: 'refused'; why: string }
  | { kind: 'failed'; why: string }
  | { kind: 'ended'; toPlain: number; toTls: number; endedBy: 'plain' | 'tls' | 'error' };

/** Pure: a status line, or undefined for one that is not the hop's. */
export function hopStatusParse(line: string): HopStatus | undefined {
  let m: RegExpExecArray | null;
  if ((m = /^L (\d{1,5})$/.exec(line))) return Number(m[1]) > 0 && Number(m[1]) < 65536 ? { kind: 'listening', port: Number(m[1]) } : undefined;
  if (line === 'A') return { kind: 'claimed' };
  if ((m = /^R (.+)$/.exec(line))) return { kind: 'refused', why: m[1]! };
  if ((m = /^X (.+)$/.exec(line))) return { kind: 'failed', why: m[1]! };
  if ((m = /^E (\d+) (\d+) (plain|tls|error)$/.exec(line))) return { kind: 'ended', toPlain: Number(m[1]), toTls: Number(m[2]), endedBy: m[3] as 'plain' | 'tls' | 'error' };
  return undefined;
}

/** A running hop process. */
export interface DisplayHop {
  /** Ends the hop at once (both sides dropped). */
  terminate(): void;
  /** Settles when the process is gone, with its last status. */
  readonly ended: Promise<HopStatus | undefined>;
}

function statusLines(child: ChildProcess, onStatus: (s: HopStatus) => void): void {
  let buffered = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const status = hopStatusParse(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
      if (status) onStatus(status);
    }
    if (buffered.length > 4096) buffered = '';
  });
}

function hopProcess(binary: string, args: string[], extraFds: Array<Socket | 'pipe'>, commands: Buffer[], onStatus: (s: HopStatus) => void): { child: ChildProcess; hop: DisplayHop } {
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'inherit', ...extraFds], env: helperEnv() });
  child.stdin!.on('error', () => undefined);
  child.stdin!.write(Buffer.concat([...commands, Buffer.from('G\n')]));
  let last: HopStatus | undefined;
  statusLines(child, (s) => {
    last = s;
    onStatus(s);
  });
  const ended = new Promise<HopStatus | undefined>((resolve) => {
    child.once('error', () => undefined); // 'close' follows
    child.once('close', () => resolve(last));
  });
  // EOF on its fd 0 drops everything: the process goes with this one's end of the pipe.
  return { child, hop: { terminate: () => void (child.stdin!.destroy(), child.kill('SIGKILL')), ended } };
}

/** The controller's end, listening: its port for the agent, the socket the display pipe takes as its VNC side, and
 *  `claimed` (resolves once the agent's connection proved itself; rejects on the deadline or a failure). */
export interface HopListening extends DisplayHop {
  port: number;
  plain: Socket;
  claimed: Promise<void>;
}

/** Starts the controller's end on `at.address` (an IP literal) with the controller's certificate and key (PEM), for a
 *  connection from `at.peer` (the address the agent's link comes from) only. */
export function hopListen(binary: string, at: { address: string; peer: string }, identityPem: Buffer, secret: string, onRefused: (why: string) => void): Promise<HopListening> {
  let listening: (port: number) => void = () => undefined;
  let claim: { resolve(): void; reject(err: Error): void } | undefined;
  const claimed = new Promise<void>((resolve, reject) => (claim = { resolve, reject }));
  claimed.catch(() => undefined);
  const failure = (why: string) => new ArdesiaError('AGENT_STREAM_REFUSED', `the display hop could not be opened: ${why}`);
  const { child, hop } = hopProcess(binary, ['listen', at.address, at.peer], ['pipe'], [Buffer.from(`C ${identityPem.length}\n`), identityPem, Buffer.from(`S ${secret}\n`)], (s) => {
    if (s.kind === 'listening') listening(s.port);
    else if (s.kind === 'claimed') claim!.resolve();
    else if (s.kind === 'refused') onRefused(s.why);
    else if (s.kind === 'failed') claim!.reject(failure(s.why));
  });
  void hop.ended.then(() => claim!.reject(failure('its process ended')));
  return new Promise<HopListening>((resolve, reject) => {
    listening = (port) => resolve({ ...hop, port, plain: child.stdio[3] as Socket, claimed });
    void hop.ended.then((last) => reject(failure(last?.kind === 'failed' ? last.why : 'its process ended before it listened')));
  });
}

/** The agent's end: `tcp` connected to the controller's hop port, `vnc` to the VM's VNC socket (both handed over and
 *  closed here). Resolves once the controller's certificate matched `fingerprint` and the secret went out. */
export function hopDial(binary: string, vnc: Socket, tcp: Socket, fingerprint: string, secret: string): Promise<DisplayHop> {
  let result: { resolve(): void; reject(err: Error): void } | undefined;
  const up = new Promise<void>((resolve, reject) => (result = { resolve, reject }));
  const pinned = fingerprintParse(fingerprint).replace(/:/g, '');
  // What Node already read from the VNC socket (QEMU greets at once) goes first, ahead of what the hop reads itself.
  const prefix = drainAndDetach(vnc);
  drainAndDetach(tcp); // the controller's end speaks only after the agent's TLS hello: nothing to carry over
  const commands = [Buffer.from(`F ${pinned}\nS ${secret}\n`), ...(prefix.length ? [Buffer.from(`P ${prefix.length}\n`), prefix] : [])];
  const { hop } = hopProcess(binary, ['dial'], [vnc, tcp], commands, (s) => {
    if (s.kind === 'claimed') result!.resolve();
    else if (s.kind === 'refused') result!.reject(new ArdesiaError('AGENT_CONTROLLER_MISMATCH', `the display hop's peer is not the controller: ${s.why}`));
    else if (s.kind === 'failed') result!.reject(new ArdesiaError('DISPLAY_UNAVAILABLE', `the display hop to the controller failed: ${s.why}`));
  });
  // The process holds its own copies now; ours are closed without a FIN (the connections stay up).
  vnc.destroy();
  tcp.destroy();
  void hop.ended.then(() => result!.reject(new ArdesiaError('DISPLAY_UNAVAILABLE', 'the display hop ended before it was up')));
  return up.then(() => hop);
}
