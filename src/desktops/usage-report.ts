// Usage reports (issue 17), pure: sessions per pool, user and day; peak concurrent sessions; login waits
// p50/p95; desktops booted and reset per pool and day — from the recorded usage events and login waits.
import type { DesktopState } from '../contract/pools.js';
import { percentile } from './login-timeline.js';

export const USAGE_EVENT_KINDS = ['session-start', 'session-end', 'boot', 'reset'] as const;
export type UsageEventKind = (typeof USAGE_EVENT_KINDS)[number];

export interface UsageEvent {
  /** Epoch ms. */
  at: number;
  kind: UsageEventKind;
  pool: string;
  desktop: string;
  user: string | null;
}

const SESSION: readonly DesktopState[] = ['in-use', 'disconnected', 'logging-off'];

/** The usage events a desktop's state change stands for, in order (`from` undefined: not seen since the daemon started). */
export function usageEventsOf(from: DesktopState | undefined, to: DesktopState): UsageEventKind[] {
  if (from === to) return [];
  const events: UsageEventKind[] = [];
  // A session already under way at start-up was counted before; its end is counted when seen.
  if (from !== undefined && to === 'in-use' && !SESSION.includes(from)) events.push('session-start');
  if (from !== undefined && SESSION.includes(from) && !SESSION.includes(to)) events.push('session-end');
  if (to === 'booting') events.push('boot');
  if (to === 'resetting') events.push('reset');
  return events;
}

export interface LoginWait {
  pool: string;
  /** Epoch ms of the request. */
  at: number;
  /** Request → session started. */
  ms: number;
}

export interface UsageReport {
  from: string;
  to: string;
  sessions: Array<{ pool: string; user: string; day: string; sessions: number }>;
  peaks: Array<{ pool: string; peak: number; at: string | null }>;
  waits: Array<{ pool: string; logins: number; p50Ms: number | null; p95Ms: number | null }>;
  desktops: Array<{ pool: string; day: string; booted: number; reset: number }>;
}

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const byKeys = <T>(rows: T[], key: (r: T) => string) => rows.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));

/** `events`: every event before `to` (those before `from` give the sessions open at `from`), in time order. */
export function usageReport(events: readonly UsageEvent[], waits: readonly LoginWait[], from: number, to: number): UsageReport {
  const sessions = new Map<string, { pool: string; user: string; day: string; sessions: number }>();
  const desktops = new Map<string, { pool: string; day: string; booted: number; reset: number }>();
  const open = new Map<string, Set<string>>(); // pool → desktops in session
  const peaks = new Map<string, { pool: string; peak: number; at: string | null }>();
  const peakOf = (pool: string) => peaks.get(pool) ?? peaks.set(pool, { pool, peak: 0, at: null }).get(pool)!;
  const notePeak = (pool: string, at: number) => {
    const now = open.get(pool)?.size ?? 0;
    const p = peakOf(pool);
    if (now > p.peak) Object.assign(p, { peak: now, at: new Date(Math.max(at, from)).toISOString() });
  };
  const sorted = [...events].sort((a, b) => a.at - b.at);
  for (const e of sorted) {
    if (e.at >= to) break;
    if (e.at < from) continue;
    if (e.kind === 'session-start') {
      const key = `${e.pool}\0${e.user ?? ''}\0${dayOf(e.at)}`;
      const row = sessions.get(key) ?? sessions.set(key, { pool: e.pool, user: e.user ?? '', day: dayOf(e.at), sessions: 0 }).get(key)!;
      row.sessions += 1;
    }
    if (e.kind === 'boot' || e.kind === 'reset') {
      const key = `${e.pool}\0${dayOf(e.at)}`;
      const row = desktops.get(key) ?? desktops.set(key, { pool: e.pool, day: dayOf(e.at), booted: 0, reset: 0 }).get(key)!;
      if (e.kind === 'boot') row.booted += 1;
      else row.reset += 1;
    }
    peakOf(e.pool);
  }
  // Sessions open when the window starts count towards its peak: replayed in order, peaks noted inside the window.
  let started = false;
  const windowStarts = () => {
    started = true;
    for (const pool of open.keys()) notePeak(pool, from);
  };
  for (const e of sorted) {
    if (e.at >= to) break;
    if (!started && e.at >= from) windowStarts();
    const set = open.get(e.pool) ?? open.set(e.pool, new Set()).get(e.pool)!;
    if (e.kind === 'session-start') set.add(e.desktop);
    if (e.kind === 'session-end') set.delete(e.desktop);
    if (e.at >= from) notePeak(e.pool, e.at);
  }
  if (!started) windowStarts();
  const waitsByPool = new Map<string, number[]>();
  for (const w of waits) if (w.at >= from && w.at < to) (waitsByPool.get(w.pool) ?? waitsByPool.set(w.pool, []).get(w.pool)!).push(w.ms);
  return {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    sessions: byKeys([...sessions.values()], (r) => `${r.pool}\0${r.day}\0${r.user}`),
    peaks: byKeys([...peaks.values()], (r) => r.pool),
    waits: byKeys([...waitsByPool].map(([pool, ms]) => ({ pool, logins: ms.length, p50Ms: percentile(ms, 50), p95Ms: percentile(ms, 95) })), (r) => r.pool),
    desktops: byKeys([...desktops.values()], (r) => `${r.pool}\0${r.day}`),
  };
}

const cell = (v: string | number | null) => {
  const s = v === null ? '' : String(v);
  const safe = /^[=+\-@]/.test(s) ? `'${s}` : s; // never read as a spreadsheet formula
  return /[",\n\r']/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
};

/** One CSV table: measure,pool,user,day,value (a row per figure). */
export function usageCsv(r: UsageReport): string {
  const rows: Array<Array<string | number | null>> = [['measure', 'pool', 'user', 'day', 'value']];
  for (const s of r.sessions) rows.push(['sessions', s.pool, s.user, s.day, s.sessions]);
  for (const p of r.peaks) rows.push(['peak-concurrent', p.pool, '', p.at?.slice(0, 10) ?? '', p.peak]);
  for (const w of r.waits) rows.push(['login-wait-p50-ms', w.pool, '', '', w.p50Ms], ['login-wait-p95-ms', w.pool, '', '', w.p95Ms]);
  for (const d of r.desktops) rows.push(['desktops-booted', d.pool, '', d.day, d.booted], ['desktops-reset', d.pool, '', d.day, d.reset]);
  return rows.map((row) => row.map(cell).join(',')).join('\r\n') + '\r\n';
}
