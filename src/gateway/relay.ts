// The display pipe in a native relay process (native/display-relay.c): after our own WebSocket handshake
// (upgrade.ts) and the ticket check, both socket fds are handed to the relay, which splices the desktop's
// bytes to the browser without passing them through this event loop (the Node pipe cost ~2.5 ms CPU per
// MiB). close() is routed to the relay as a command and its totals come back as status lines, so the
// callers of pipeDisplay see no difference from the Node pipe.
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import type { DisplayPipe, DisplayPipeTotals } from './proxy.js';
import { closeReasonCut } from './websocket-frames.js';
import { helperEnv } from '../lib/unprivileged-account.js';
import type { FirstFrameWatch } from './rfb-first-frame.js';
import { nativeHelper } from '../lib/native-helper.js';


/** The relay (native/display-relay.c); ARDESIA_DISPLAY_RELAY overrides, "off" disables it. Without a path, `why` says why. */
export function displayRelayBinary(env: NodeJS.ProcessEnv = process.env): { path?: string; why?: string } {
  return nativeHelper('display-relay', 'ARDESIA_DISPLAY_RELAY', env);
}

/** One status line of the relay: running totals ("T") or the final ones with who ended ("E"). */
export function parseRelayStatus(line: string): { final: boolean; totals: Omit<DisplayPipeTotals, 'endedBy' | 'via'>; endedBy?: DisplayPipeTotals['endedBy'] } | undefined {
  const m = /^([TE]) (\d+) (\d+) (\d+)(?: (desktop|browser|error))?$/.exec(line);
  if (!m || (m[1] === 'E') !== (m[5] !== undefined)) return undefined;
  const totals = { toBrowser: Number(m[2]), toDesktop: Number(m[3]), peakBrowserQueue: Number(m[4]) };
  return m[1] === 'E' ? { final: true, totals, endedBy: m[5] as DisplayPipeTotals['endedBy'] } : { final: false, totals };
}

/** The close command for the relay: code and a reason cut to what a close frame holds, on one line. */
export function relayCloseCommand(code: number | undefined, reason: string | undefined): string {
  const text = closeReasonCut(String(reason ?? '').replace(/[\r\n]+/g, ' '));
  const valid = code !== undefined && Number.isInteger(code) && code >= 1000 && code < 5000;
  return `C ${valid ? code : 1000} ${text.toString('utf8')}\n`;
}

/**
 * Splits the relay's output: status lines, "M n\n" + n bytes (a copy of what the browser sent) and
 * "V n\n" + n bytes (a copy of the desktop's first bytes). Resumable at any byte boundary.
 */
export class RelayOutputReader {
  private buffered = Buffer.alloc(0);
  private copyLeft = 0;
  private copyKind: 'M' | 'V' = 'M';

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onBrowserBytes: (bytes: Buffer) => void,
    private readonly onDesktopBytes: (bytes: Buffer) => void = () => undefined,
  ) {}

  feed(chunk: Buffer): void {
    let data = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    this.buffered = Buffer.alloc(0);
    while (data.length > 0) {
      if (this.copyLeft > 0) {
        const take = Math.min(this.copyLeft, data.length);
        this.copyLeft -= take;
        (this.copyKind === 'M' ? this.onBrowserBytes : this.onDesktopBytes)(data.subarray(0, take));
        data = data.subarray(take);
        continue;
      }
      const nl = data.indexOf(10);
      if (nl < 0) {
        this.buffered = Buffer.from(data);
        return;
      }
      const line = data.toString('latin1', 0, nl);
      data = data.subarray(nl + 1);
      const copy = /^([MV]) (\d+)$/.exec(line);
      if (copy) {
        this.copyKind = copy[1] as 'M' | 'V';
        this.copyLeft = Number(copy[2]);
      } else this.onLine(line);
    }
  }
}

/** Takes what a paused socket had already read, and leaves it unable to read more here. */
export function drainAndDetach(socket: Socket): Buffer {
  socket.pause();
  const parts: Buffer[] = [];
  for (let b: Buffer | null; (b = socket.read() as Buffer | null) !== null; ) parts.push(b);
  socket.removeAllListeners();
  socket.on('error', () => undefined);
  return Buffer.concat(parts);
}

function prefixCommand(kind: 'D' | 'B', bytes: Buffer): Buffer[] {
  return bytes.length === 0 ? [] : [Buffer.from(`${kind} ${bytes.length}\n`), bytes];
}

/**
 * Hands the pipe to a relay process: the browser's socket (handshake answered; `fromBrowser` its bytes
 * already read) and the VNC socket. `totals` is updated from the relay's status lines; `onEnd` runs once,
 * after the relay exited and its pipes closed.
 */
export function relayDisplay(browser: Socket, fromBrowser: Buffer, vnc: Socket, binary: string, totals: DisplayPipeTotals, hooks: { onInput?(bytes: Buffer): void; onEnd(): void; firstFrame?: FirstFrameWatch }): DisplayPipe {
  const env = helperEnv(); // first: a missing account fails before the sockets are taken
  const fromDesktop = drainAndDetach(vnc);
  hooks.firstFrame?.desktopBytes(fromDesktop); // the relay sends these first; its copies ("V") start after them
  const browserPrefix = Buffer.concat([fromBrowser, drainAndDetach(browser)]);
  const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'inherit', vnc, browser], env });
  // The relay holds its own copies now; ours are closed without a FIN (the connections stay up).
  vnc.destroy();
  browser.destroy();
  const stdin = child.stdin!;
  stdin.on('error', () => undefined);
  stdin.write(Buffer.concat([...prefixCommand('D', fromDesktop), ...prefixCommand('B', browserPrefix), Buffer.from('S\n')]));

  let ended = false;
  let finalSeen = false;
  const reader = new RelayOutputReader(
    (line) => {
      const status = parseRelayStatus(line);
      if (!status) return;
      Object.assign(totals, status.totals);
      hooks.firstFrame?.sent(totals.toBrowser); // the relay's count of desktop bytes written to the browser's socket
      if (status.final) {
        finalSeen = true;
        totals.endedBy = status.endedBy!;
      }
    },
    (bytes) => hooks.onInput?.(bytes), // the route meters the user's input (idle policy)
    (bytes) => hooks.firstFrame?.desktopBytes(bytes),
  );
  child.stdout!.on('data', (chunk: Buffer) => reader.feed(chunk));
  child.once('error', () => undefined); // 'close' follows
  child.once('close', () => {
    ended = true;
    if (!finalSeen) totals.endedBy = 'error';
    hooks.onEnd();
  });
  return {
    close: (code, reason) => {
      if (!ended && stdin.writable) stdin.write(relayCloseCommand(code, reason));
    },
  };
}
