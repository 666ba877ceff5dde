// The pool forecast, pure: from past sessions, how many desktops each hour of the week needs (p95 over the last weeks
// of the peak of concurrent sessions in that hour) and how many logins it sees (p95 of sessions started in it); what the
// hosts allow; and a proposed spare schedule (warm spares for each hour's logins, within what the hosts can run).
import { type Forecast, type SpareRule, spareRuleText, WEEKDAYS } from '../contract/pool-schedule.js';

export type { Forecast, HourForecast } from '../contract/pool-schedule.js';
import { localDatePlus, localToInstant } from '../lib/local-time.js';

/** A session without a recorded end (the daemon was down when it ended) is taken to last at most this long. */
export const SESSION_ASSUMED_MAX_MS = 10 * 3_600_000;
export const FORECAST_PERCENTILE = 0.95;

export interface SessionRecord {
  /** When it happened (ms), what (a connect starts a session, an end ends it), on which desktop. */
  at: number;
  kind: 'connect' | 'end';
  desktop: string;
}

export interface Interval {
  start: number;
  end: number;
}

/** Sessions from the audit's connects and ends: an end, or the desktop's next connect, closes a session; one still
 *  open runs to now; one never closed is capped at SESSION_ASSUMED_MAX_MS. */
export function sessionIntervals(records: readonly SessionRecord[], now: number): Interval[] {
  const open = new Map<string, number>();
  const out: Interval[] = [];
  const close = (start: number, end: number) => out.push({ start, end: Math.min(end, start + SESSION_ASSUMED_MAX_MS) });
  for (const r of [...records].sort((a, b) => a.at - b.at)) {
    const started = open.get(r.desktop);
    if (started !== undefined) close(started, r.at);
    open.delete(r.desktop);
    if (r.kind === 'connect') open.set(r.desktop, r.at);
  }
  for (const start of open.values()) close(start, now);
  return out.sort((a, b) => a.start - b.start);
}

/** Nearest-rank percentile of whole counts; 0 for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

/** Most sessions at once within [from, to). */
export function peakConcurrent(sessions: readonly Interval[], from: number, to: number): number {
  const edges: Array<[number, number]> = [];
  for (const s of sessions) {
    if (s.start >= to || s.end <= from || s.end <= s.start) continue;
    edges.push([Math.max(s.start, from), 1], [s.end, -1]);
  }
  // An end before a start at the same instant: a desktop handed over is not two at once.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let peak = 0;
  for (const [, d] of edges) peak = Math.max(peak, (now += d));
  return peak;
}

export interface ForecastInput {
  sessions: readonly Interval[];
  now: number;
  weeks: number;
  timeZone: string;
  /** Desktops of the pool the hosts can run at once, or null when unknown. */
  capacity: number | null;
  /** The proposed warm spares never go below this (a login at a quiet hour still finds one). */
  minWarm: number;
  /** The pool's maxDesktops less its coldSpares: a rule may not ask more. */
  maxWarm: number;
}

/** Per hour of the week, the samples of each past week whose hour has fully passed. */
function hourSamples(input: ForecastInput): Array<{ desktops: number[]; logins: number[] }> {
  const slots = Array.from({ length: 168 }, () => ({ desktops: [] as number[], logins: [] as number[] }));
  for (let d = -7 * input.weeks; d <= 0; d++) {
    const date = localDatePlus(input.now, d, input.timeZone);
    const next = localDatePlus(input.now, d + 1, input.timeZone);
    for (let h = 0; h < 24; h++) {
      const from = localToInstant(date.year, date.month, date.day, h, 0, input.timeZone);
      const to = h === 23 ? localToInstant(next.year, next.month, next.day, 0, 0, input.timeZone) : localToInstant(date.year, date.month, date.day, h + 1, 0, input.timeZone);
      // Only whole past hours inside the window; an hour skipped by a daylight-saving change has no length.
      if (to > input.now || from < input.now - input.weeks * 7 * 86_400_000 || to <= from) continue;
      const slot = slots[date.weekday * 24 + h]!;
      slot.desktops.push(peakConcurrent(input.sessions, from, to));
      slot.logins.push(input.sessions.filter((s) => s.start >= from && s.start < to).length);
    }
  }
  return slots;
}

export function forecastPool(input: ForecastInput): Forecast {
  const hours = hourSamples(input).map((s, i) => ({
    day: WEEKDAYS[Math.floor(i / 24)]!,
    hour: i % 24,
    desktops: percentile(s.desktops, FORECAST_PERCENTILE),
    logins: percentile(s.logins, FORECAST_PERCENTILE),
  }));
  const cap = input.capacity;
  const warm = hours.map((h) => {
    const room = cap === null ? input.maxWarm : Math.max(0, Math.min(input.maxWarm, cap - h.desktops));
    return Math.min(room, Math.max(input.minWarm, h.logins));
  });
  const problems = cap === null ? [] : hours.filter((h) => h.desktops > cap).map((h) => `${h.day} ${pad(h.hour)}:00 needs ${h.desktops} desktops but the hosts can run ${cap} of this pool`);
  return { timeZone: input.timeZone, weeks: input.weeks, sessionsSeen: input.sessions.length, capacity: cap, hours, proposed: rulesFromHours(warm), problems };
}

const pad = (n: number) => String(n).padStart(2, '0');

/** A rule at every hour whose count differs from the hour before (the week wraps), the same time and count on
 *  several days joined into one rule; a week without change is one daily rule. */
export function rulesFromHours(warm: readonly number[]): SpareRule[] {
  const changes = warm.map((w, i) => ({ i, w })).filter(({ i, w }) => w !== warm[(i + 167) % 168]);
  if (changes.length === 0) return [{ days: [...WEEKDAYS], at: '00:00', warm: warm[0] ?? 0 }];
  const byTimeAndCount = new Map<string, SpareRule>();
  for (const { i, w } of changes) {
    const at = `${pad(i % 24)}:00`;
    const key = `${at} ${w}`;
    const rule = byTimeAndCount.get(key) ?? byTimeAndCount.set(key, { days: [], at, warm: w }).get(key)!;
    rule.days.push(WEEKDAYS[Math.floor(i / 24)]!);
  }
  const firstDay = (r: SpareRule) => Math.min(...r.days.map((d) => WEEKDAYS.indexOf(d)));
  return [...byTimeAndCount.values()].sort((a, b) => firstDay(a) - firstDay(b) || a.at.localeCompare(b.at) || a.warm - b.warm);
}

export const forecastRuleTexts = (f: Forecast): string[] => f.proposed.map(spareRuleText);
