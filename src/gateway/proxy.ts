// The display pipe: browser WebSocket ↔ the desktop's VNC unix socket, the hot path of every session.
// Streaming without copies (each socket chunk becomes one binary frame), back-pressure both ways,
// and every byte of a stream the desktop closes reaches the browser before the WebSocket closes.
// The bytes move in a native relay process when it is built (relay.ts); this Node pipe is the fallback.
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { canRelay, displayRelayBinary, relayDisplay } from './relay.js';

/** Bytes queued towards the browser above which the desktop side is paused until the socket drains. */
export const BROWSER_HIGH_WATER_BYTES = 512 * 1024;

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

const SEND_BINARY = { binary: true, compress: false } as const;
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

/** The TCP/unix socket under a server-side `ws` WebSocket (ws keeps it as `_socket`). */
function wireOf(ws: WebSocket): Socket {
  return (ws as unknown as { _socket: Socket })._socket;
}

/**
 * Joins an open WebSocket and a connected VNC socket until either ends; `onEnd` runs once, after
 * both are closed. Desktop end → everything read is framed and queued before the close frame, which
 * `ws` sends after the queued data: the browser gets the tail. Browser end → the VNC socket is destroyed.
 */
export function pipeDisplay(ws: WebSocket, vnc: Socket, onEnd?: (totals: DisplayPipeTotals) => void): void {
  const binary = relayBinary();
  if (binary && canRelay(ws, vnc)) {
    const totals: DisplayPipeTotals = { toBrowser: 0, toDesktop: 0, peakBrowserQueue: 0, endedBy: 'error', via: 'relay' };
    livePipes.add(totals);
    relayDisplay(ws, vnc, binary, totals, () => {
      livePipes.delete(totals);
      onEnd?.(totals);
    });
    return;
  }
  pipeInProcess(ws, vnc, onEnd);
}

function pipeInProcess(ws: WebSocket, vnc: Socket, onEnd?: (totals: DisplayPipeTotals) => void): void {
  const wire = wireOf(ws);
  const totals: DisplayPipeTotals = { toBrowser: 0, toDesktop: 0, peakBrowserQueue: 0, endedBy: 'error', via: 'node' };
  let browserFull = false;
  let desktopFull = false;
  let open = 2;
  livePipes.add(totals);

  const onBrowserDrain = () => {
    browserFull = false;
    vnc.resume();
  };
  const onDesktopDrain = () => {
    desktopFull = false;
    ws.resume();
  };
  const sideClosed = () => {
    if (--open > 0) return;
    livePipes.delete(totals);
    wire.off('drain', onBrowserDrain);
    onEnd?.(totals);
  };

  vnc.on('data', (chunk: Buffer) => {
    totals.toBrowser += chunk.length;
    ws.send(chunk, SEND_BINARY);
    const queued = ws.bufferedAmount;
    if (queued > totals.peakBrowserQueue) totals.peakBrowserQueue = queued;
    if (!browserFull && queued > BROWSER_HIGH_WATER_BYTES) {
      browserFull = true;
      vnc.pause();
      wire.once('drain', onBrowserDrain);
    }
  });
  vnc.once('end', () => {
    if (totals.endedBy === 'error') totals.endedBy = 'desktop';
    ws.close(1000, 'the desktop closed its display');
  });
  vnc.on('error', () => undefined); // 'close' follows with hadError
  vnc.once('close', (hadError: boolean) => {
    if (hadError) ws.close(1011, 'the display connection failed');
    sideClosed();
  });

  ws.on('message', (data: Buffer) => {
    totals.toDesktop += data.length;
    if (!vnc.write(data) && !desktopFull) {
      desktopFull = true;
      ws.pause();
      vnc.once('drain', onDesktopDrain);
    }
  });
  // A malformed frame: no closing handshake with a client that speaks garbage (ws would wait 30 s for it).
  ws.on('error', () => ws.terminate());
  ws.once('close', () => {
    if (totals.endedBy === 'error') totals.endedBy = 'browser';
    vnc.destroy();
    sideClosed();
  });
}
