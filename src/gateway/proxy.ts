// The display pipe: the browser's WebSocket (a raw socket after our own handshake, upgrade.ts) ↔ the
// desktop's VNC unix socket, the hot path of every session. Streaming without copies of the desktop's
// bytes (each socket chunk becomes one binary frame), back-pressure both ways, and every byte of a stream
// the desktop closes reaches the browser before the close frame. The bytes move in a native relay process
// when it is built (relay.ts); the Node pipe below is the fallback, with the same protocol rules.
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { displayRelayBinary, relayDisplay } from './relay.js';
import { FirstFrameWatch } from './rfb-first-frame.js';
import { BrowserFrameReader, CLOSE_WAIT_MS, closeFrame, frameHeader, Opcode, type BrowserFrameEvent } from './websocket-frames.js';

/** Bytes queued towards the browser above which the desktop side is paused until the socket drains. */
export const BROWSER_HIGH_WATER_BYTES = 512 * 1024;
/** Bytes read ahead of the hand-over that the relay takes as a prefix, at most. */
const PREFIX_MAX_BYTES = 128 * 1024;

export interface DisplayPipeTotals {
  toBrowser: number;
  toDesktop: number;
  /** The most bytes ever queued towards the browser (bounded by back-pressure: high water + one chunk). */
  peakBrowserQueue: number;
  /** Which side ended the pipe first. */
  endedBy: 'desktop' | 'browser' | 'error';
  /** Where the bytes moved: the native relay process, or this process's event loop. */
  via: 'relay' | 'node';
}

export interface DisplayPipeHooks {
  /** What the browser sent, unframed (the route meters it for the idle policy). */
  onInput?(bytes: Buffer): void;
  /** Once, after both sides are closed. */
  onEnd?(totals: DisplayPipeTotals): void;
  /** Once, when the bytes of the desktop's first frame went into the browser's socket (the login timeline). */
  onFirstFrame?(): void;
}

/** An open pipe: the session's handle. */
export interface DisplayPipe {
  /** Closes the WebSocket with this code and reason (an administrator's disconnect, the idle policy). */
  close(code: number, reason: string): void;
}

const livePipes = new Set<DisplayPipeTotals>();

/** The pipes open in this process, with their running totals (tests count them around hostile clients). */
export function liveDisplayPipes(): DisplayPipeTotals[] {
  return [...livePipes];
}

let relayMissingWarned = false;

/** The relay binary, or undefined (then warned once per process: the Node pipe costs ~3× the CPU). */
function relayBinary(): string | undefined {
  const { path, why } = displayRelayBinary();
  if (!path && !relayMissingWarned) {
    relayMissingWarned = true;
    process.emitWarning(`the display relay is not used, displays go through the slower Node pipe: ${why}`, { code: 'ARDESIA_DISPLAY_RELAY' });
  }
  return path;
}

/**
 * Joins a browser socket whose WebSocket handshake was answered (`fromBrowser`: its bytes already read
 * past the request) and a connected VNC socket (or a stream to one: an agent's, for a VM on its host), until either
 * ends. The relay takes plain sockets; a TLS socket's bytes are encrypted in its fd, and a stream has none, so these
 * stay in the Node pipe.
 */
export function pipeDisplay(browser: Socket, fromBrowser: Buffer, vnc: Socket | Duplex, hooks: DisplayPipeHooks = {}): DisplayPipe {
  const totals: DisplayPipeTotals = { toBrowser: 0, toDesktop: 0, peakBrowserQueue: 0, endedBy: 'error', via: 'node' };
  livePipes.add(totals);
  const onEnd = () => {
    livePipes.delete(totals);
    hooks.onEnd?.(totals);
  };
  const firstFrame = hooks.onFirstFrame ? new FirstFrameWatch(hooks.onFirstFrame) : undefined;
  const binary = relayBinary();
  const handOver = binary && vnc instanceof Socket && !(browser instanceof TLSSocket) && fromBrowser.length + browser.readableLength <= PREFIX_MAX_BYTES && vnc.readableLength <= PREFIX_MAX_BYTES;
  if (handOver) {
    totals.via = 'relay';
    return relayDisplay(browser, fromBrowser, vnc, binary, totals, { onInput: hooks.onInput, onEnd, ...(firstFrame ? { firstFrame } : {}) });
  }
  return new NodeDisplayPipe(browser, vnc, totals, hooks.onInput, onEnd, firstFrame).start(fromBrowser);
}

/** The pipe in this event loop: frames written and read here with websocket-frames.ts. */
class NodeDisplayPipe implements DisplayPipe {
  private readonly reader = new BrowserFrameReader();
  private closeSent = false;
  private closeTimer: NodeJS.Timeout | undefined;
  private open = 2;
  private endedBySet = false;

  constructor(
    private readonly browser: Socket,
    private readonly vnc: Socket | Duplex,
    private readonly totals: DisplayPipeTotals,
    private readonly onInput: ((bytes: Buffer) => void) | undefined,
    private readonly onEnd: () => void,
    private readonly firstFrame?: FirstFrameWatch,
  ) {}

  start(fromBrowser: Buffer): this {
    const { browser, vnc } = this;
    vnc.on('data', (chunk: Buffer) => this.toBrowser(chunk));
    vnc.once('end', () => {
      this.endedBy('desktop');
      this.close(1000, 'the desktop closed its display');
    });
    vnc.on('error', () => undefined); // 'close' follows with hadError
    vnc.once('close', (hadError: boolean) => {
      if (hadError) {
        this.endedBy('error');
        this.close(1011, 'the display connection failed');
      }
      this.sideClosed();
    });
    browser.on('data', (chunk: Buffer) => this.fromBrowser(chunk));
    browser.once('end', () => {
      this.endedBy('browser');
      browser.end();
    });
    browser.on('error', () => undefined); // 'close' follows
    browser.once('close', () => {
      this.endedBy('browser');
      clearTimeout(this.closeTimer);
      vnc.destroy();
      this.sideClosed();
    });
    if (fromBrowser.length) this.fromBrowser(fromBrowser);
    browser.resume();
    return this;
  }

  close(code: number, reason: string): void {
    if (this.closeSent || this.browser.destroyed) return;
    this.closeSent = true;
    this.vnc.pause(); // nothing more goes to the browser after the close frame
    this.browser.write(closeFrame(code, reason));
    // The browser answers with its close frame (then we end); one that never does is dropped.
    this.closeTimer = setTimeout(() => this.browser.destroy(), CLOSE_WAIT_MS).unref();
  }

  /** Records the side that ended the pipe first (or a protocol error); later ends do not change it. */
  private endedBy(who: DisplayPipeTotals['endedBy']): void {
    if (this.endedBySet) return;
    this.endedBySet = true;
    this.totals.endedBy = who;
  }

  private toBrowser(chunk: Buffer): void {
    if (this.closeSent) return;
    const { browser, totals } = this;
    totals.toBrowser += chunk.length;
    browser.cork();
    browser.write(frameHeader(Opcode.binary, chunk.length));
    const { firstFrame } = this;
    if (firstFrame?.pending) {
      firstFrame.desktopBytes(chunk);
      const sent = totals.toBrowser;
      browser.write(chunk, () => firstFrame.sent(sent)); // called once the bytes are in the socket
    } else browser.write(chunk);
    browser.uncork();
    const queued = browser.writableLength;
    if (queued > totals.peakBrowserQueue) totals.peakBrowserQueue = queued;
    if (queued > BROWSER_HIGH_WATER_BYTES && !this.vnc.isPaused()) {
      this.vnc.pause();
      browser.once('drain', () => {
        if (!this.closeSent) this.vnc.resume();
      });
    }
  }

  private fromBrowser(chunk: Buffer): void {
    for (const event of this.reader.feed(chunk)) this.onBrowserEvent(event);
  }

  private onBrowserEvent(event: BrowserFrameEvent): void {
    const { browser, vnc, totals } = this;
    switch (event.kind) {
      case 'data':
        totals.toDesktop += event.bytes.length;
        this.onInput?.(event.bytes);
        if (!vnc.write(event.bytes) && !browser.isPaused()) {
          browser.pause();
          vnc.once('drain', () => browser.resume());
        }
        return;
      case 'ping':
        if (!this.closeSent) browser.write(Buffer.concat([frameHeader(Opcode.pong, event.payload.length), event.payload]));
        return;
      case 'pong':
        return;
      case 'text':
        this.close(1003, 'binary frames only (subprotocol "binary")');
        return;
      case 'close':
        this.endedBy('browser');
        if (!this.closeSent) {
          this.closeSent = true;
          browser.write(closeFrame(event.code)); // the echo: its code, no reason
        }
        clearTimeout(this.closeTimer);
        browser.end();
        vnc.destroy();
        return;
      case 'violation':
        // A client that speaks garbage gets no closing handshake: both sides dropped at once.
        this.endedBy('error');
        browser.destroy();
        vnc.destroy();
        return;
    }
  }

  private sideClosed(): void {
    if (--this.open > 0) return;
    this.onEnd();
  }
}
