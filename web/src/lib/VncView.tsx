// A desktop's display in the page: noVNC's RFB over a ticketed WebSocket, with automatic reconnect after a
// network drop (a fresh ticket each time, the status visible). A close the gateway sends on purpose (an
// administrator's disconnect, the idle policy, a logoff: contract/display.ts) ends the view instead: a person
// reconnects with a click, never a timer, or an idle session would never be logged off.
import RFB from '@novnc/novnc';
import { useEffect, useRef, useState } from 'react';
import { type DisplayEnd, displayEndOf, displayUnreachableText } from '../../../src/contract/display';
import { ApiError, type ApiErrorCode, displayTicket } from './api';
import { errorText } from './format';

export type DisplayStatus =
  | { kind: 'connecting' }
  | { kind: 'connected' }
  | { kind: 'reconnecting'; attempt: number; reason: string }
  | { kind: 'ended'; reason: string }
  /** The daemon ended the display on purpose; only a person's Reconnect opens it again. */
  | { kind: 'closed'; end: DisplayEnd };

const RECONNECT_DELAYS_MS = [500, 1000, 2000, 4000, 8000];
/** How often a connected display asks which controller leads (several controllers on PostgreSQL only). */
const LEADER_CHECK_EVERY_MS = 5000;

/** The leading controller that answers at this page's address ("host term"), or undefined (one controller, or no answer). */
async function leaderNow(): Promise<string | undefined> {
  try {
    const res = await fetch('/healthz', { cache: 'no-store', signal: AbortSignal.timeout(3000) });
    const body = (await res.json()) as { controller?: { holder: string; term: number } };
    return body.controller ? `${body.controller.holder} ${body.controller.term}` : undefined;
  } catch {
    return undefined;
  }
}
/** Errors that mean "the desktop is gone for you": reconnecting cannot help. */
const FINAL_CODES: ReadonlySet<ApiErrorCode> = new Set<ApiErrorCode>(['FORBIDDEN', 'DESKTOP_NOT_FOUND', 'UNAUTHENTICATED', 'VM_NOT_RUNNING']);

export function reconnectDelayMs(attempt: number): number {
  return RECONNECT_DELAYS_MS[Math.min(attempt, RECONNECT_DELAYS_MS.length) - 1] ?? 8000;
}

function socketUrl(path: string): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`;
}

/** Owns the RFB connection for one desktop; the parent gets the live RFB for its toolbar. */
export function VncView(props: {
  desktop: string;
  thinClient?: string | undefined;
  scale: boolean;
  /** Bumped by the parent's Reconnect button: a new connection after an ending. */
  attempt?: number;
  onStatus: (s: DisplayStatus) => void;
  onRfb: (rfb: RFB | undefined) => void;
  label: string;
}) {
  const screenRef = useRef<HTMLDivElement>(null);
  const rfbRef = useRef<RFB | undefined>(undefined);
  // The callbacks through refs: a parent passing new functions on every render must not reconnect the display.
  const callbacks = useRef({ onStatus: props.onStatus, onRfb: props.onRfb });
  callbacks.current = { onStatus: props.onStatus, onRfb: props.onRfb };

  useEffect(() => {
    const onStatus = (s: DisplayStatus) => callbacks.current.onStatus(s);
    const onRfb = (r: RFB | undefined) => callbacks.current.onRfb(r);
    let stopped = false;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let leaderCheck: ReturnType<typeof setInterval> | undefined;

    const scheduleReconnect = (reason: string): void => {
      if (stopped) return;
      attempt++;
      onStatus({ kind: 'reconnecting', attempt, reason });
      timer = setTimeout(() => void open(), reconnectDelayMs(attempt));
    };

    const open = async (): Promise<void> => {
      if (stopped || !screenRef.current) return;
      // Asked before the ticket: a takeover after this makes the checks below differ, so the display goes to the new leader.
      const leader = await leaderNow();
      let path: string;
      try {
        path = (await displayTicket(props.desktop)).path;
      } catch (err) {
        if (err instanceof ApiError && err.code === 'DESKTOP_HOST_LOST') {
          // Its server stopped while the display was down already: the same ending as the gateway's 4904.
          stopped = true;
          onStatus({ kind: 'closed', end: 'host-lost' });
          return;
        }
        if (err instanceof ApiError && FINAL_CODES.has(err.code)) {
          onStatus({ kind: 'ended', reason: errorText(err).message });
          return;
        }
        scheduleReconnect(errorText(err).message);
        return;
      }
      if (stopped) return;
      // A thin client names itself, so the session shows which device the user sits at.
      const url = props.thinClient ? `${socketUrl(path)}&thinClient=${encodeURIComponent(props.thinClient)}` : socketUrl(path);
      // Our own socket, so the close code is seen: noVNC's disconnect event tells only clean or not.
      const socket = new WebSocket(url, ['binary']);
      let end: DisplayEnd | undefined;
      let unreachable: string | undefined;
      let takenOver = false;
      socket.addEventListener('close', (ev) => {
        end = displayEndOf(ev.code);
        unreachable = displayUnreachableText(ev.code, ev.reason);
      });
      const rfb = new RFB(screenRef.current, socket);
      rfb.scaleViewport = props.scale;
      rfb.focusOnClick = true;
      rfbRef.current = rfb;
      onRfb(rfb);
      rfb.addEventListener('connect', () => {
        attempt = 0;
        onStatus({ kind: 'connected' });
        rfb.focus();
        // Controllers behind one address: the leader that carried this display may have died silently (no FIN from a
        // dead host), while the address now reaches its successor. A new leader means a new display through it.
        clearInterval(leaderCheck);
        if (leader !== undefined) {
          leaderCheck = setInterval(() => {
            void leaderNow().then((now) => {
              if (now === undefined || now === leader || takenOver) return;
              takenOver = true;
              rfb.disconnect();
            });
          }, LEADER_CHECK_EVERY_MS);
        }
      });
      rfb.addEventListener('disconnect', (ev) => {
        clearInterval(leaderCheck);
        rfbRef.current = undefined;
        onRfb(undefined);
        if (end) {
          stopped = true;
          onStatus({ kind: 'closed', end });
          return;
        }
        const clean = (ev as CustomEvent<{ clean: boolean }>).detail?.clean;
        if (takenOver) return scheduleReconnect('another controller took over; reconnecting through it');
        scheduleReconnect(unreachable ?? (clean ? 'the desktop closed the connection' : 'the connection dropped'));
      });
      rfb.addEventListener('securityfailure', (ev) => {
        onStatus({ kind: 'ended', reason: `the desktop refused the connection (${String((ev as CustomEvent<{ reason?: string }>).detail?.reason ?? 'security failure')})` });
        stopped = true;
      });
    };

    onStatus({ kind: 'connecting' });
    void open();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      clearInterval(leaderCheck);
      rfbRef.current?.disconnect();
      rfbRef.current = undefined;
      onRfb(undefined);
    };
  }, [props.desktop, props.attempt]);

  useEffect(() => {
    if (rfbRef.current) rfbRef.current.scaleViewport = props.scale;
  }, [props.scale]);

  return <div className="vnc-screen" ref={screenRef} role="application" aria-label={props.label} data-desktop={props.desktop} />;
}
