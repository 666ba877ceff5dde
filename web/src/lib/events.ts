// Live updates: one EventSource on /v1/events for the whole page, fanned out to listeners by event type.
// The browser reconnects an EventSource by itself; listeners reload their data on every change.
import { useEffect, useRef, useState } from 'react';

export type LiveEventType = 'desktop' | 'pool' | 'session' | 'image' | 'operation' | 'thinclient' | 'user' | 'host';
export const LIVE_EVENT_TYPES: readonly LiveEventType[] = ['desktop', 'pool', 'session', 'image', 'operation', 'thinclient', 'user', 'host'];

type Listener = (type: LiveEventType, data: unknown) => void;
export type LiveStatus = 'connecting' | 'live' | 'retrying';

const listeners = new Set<Listener>();
const statusListeners = new Set<(s: LiveStatus) => void>();
let source: EventSource | undefined;
let status: LiveStatus = 'connecting';

function setStatus(next: LiveStatus): void {
  status = next;
  for (const l of statusListeners) l(next);
}

function ensureSource(): void {
  if (source) return;
  source = new EventSource('/v1/events');
  source.onopen = () => setStatus('live');
  source.onerror = () => setStatus('retrying');
  for (const type of LIVE_EVENT_TYPES) {
    source.addEventListener(type, (ev) => {
      let data: unknown;
      try {
        data = JSON.parse((ev as MessageEvent<string>).data);
      } catch {
        data = undefined;
      }
      for (const l of listeners) l(type, data);
    });
  }
}

/** Closes the stream (at logout: the next user opens their own). */
export function liveClose(): void {
  source?.close();
  source = undefined;
  setStatus('connecting');
}

export function useLiveStatus(): LiveStatus {
  const [s, setS] = useState(status);
  useEffect(() => {
    statusListeners.add(setS);
    return () => void statusListeners.delete(setS);
  }, []);
  return s;
}

/**
 * Loads data once, then again whenever an event of one of `types` arrives (coalesced: one reload in flight,
 * one queued). Returns the data (undefined until loaded) and the last load error.
 */
export function useLive<T>(load: () => Promise<T>, types: readonly LiveEventType[], deps: readonly unknown[] = []): { data: T | undefined; error: unknown; reload: () => void } {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const loadRef = useRef(load);
  loadRef.current = load;
  const reloadRef = useRef<() => void>(() => undefined);

  useEffect(() => {
    let alive = true;
    let running = false;
    let queued = false;
    const run = async (): Promise<void> => {
      if (running) {
        queued = true;
        return;
      }
      running = true;
      try {
        const value = await loadRef.current();
        if (alive) {
          setData(value);
          setError(undefined);
        }
      } catch (err) {
        if (alive) setError(err);
      } finally {
        running = false;
        if (queued && alive) {
          queued = false;
          void run();
        }
      }
    };
    reloadRef.current = () => void run();
    const listener: Listener = (type) => {
      if (types.includes(type)) void run();
    };
    ensureSource();
    listeners.add(listener);
    void run();
    return () => {
      alive = false;
      listeners.delete(listener);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [types.join(','), ...deps]);

  return { data, error, reload: () => reloadRef.current() };
}
