// A pool's schedule of warm spares: rules like "mon-fri 07:45 40" (from 07:45 on weekdays, 40 warm spares) in the
// daemon's local time zone (serve --time-zone); the latest rule started holds until the next. Wire types and text form.
import { z } from 'zod';

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export const Weekday = z.enum(WEEKDAYS);
export type Weekday = z.infer<typeof Weekday>;
export const MAX_SCHEDULE_RULES = 50;
/** How far back `pool forecast` reads sessions at most. */
export const MAX_FORECAST_WEEKS = 52;

const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

export const SpareRule = z
  .object({
    /** Days of the week the rule starts on, in the daemon's local time zone. */
    days: z.array(Weekday).min(1, 'a schedule rule names at least one day'),
    /** Local wall-clock time it starts at, HH:MM (24-hour). */
    at: z.string().regex(TIME, 'a schedule time is HH:MM, 24-hour, like 07:45'),
    /** Warm spares from then on (replaces the pool's warmSpares while the schedule is set). */
    warm: z.number().int().min(0),
  })
  .strict();
export type SpareRule = z.infer<typeof SpareRule>;

export const SpareSchedule = z.array(SpareRule).max(MAX_SCHEDULE_RULES, `a pool has at most ${MAX_SCHEDULE_RULES} schedule rules`);

const DAY_INDEX = new Map<string, number>(WEEKDAYS.map((d, i) => [d, i]));

/** "mon-fri", "sat,sun", "fri-mon" (wraps), "daily" → the days, Sunday first; null when not a day list. */
export function parseDays(text: string): Weekday[] | null {
  if (text === 'daily') return [...WEEKDAYS];
  const days = new Set<number>();
  for (const part of text.split(',')) {
    const [from, to, extra] = part.split('-');
    const a = DAY_INDEX.get(from ?? '');
    const b = to === undefined ? a : DAY_INDEX.get(to);
    if (a === undefined || b === undefined || extra !== undefined) return null;
    for (let i = a; ; i = (i + 1) % 7) {
      days.add(i);
      if (i === b) break;
    }
  }
  return [...days].sort((x, y) => x - y).map((i) => WEEKDAYS[i]!);
}

/** The shortest text of a day set: "daily", ranges of three or more days ("mon-fri"), single days by comma. */
export function daysText(days: readonly Weekday[]): string {
  const idx = [...new Set(days.map((d) => DAY_INDEX.get(d)!))].sort((a, b) => a - b);
  if (idx.length === 7) return 'daily';
  const parts: string[] = [];
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && idx[j + 1] === idx[j]! + 1) j++;
    if (j - i >= 2) parts.push(`${WEEKDAYS[idx[i]!]}-${WEEKDAYS[idx[j]!]}`);
    else for (let k = i; k <= j; k++) parts.push(WEEKDAYS[idx[k]!]!);
    i = j + 1;
  }
  return parts.join(',');
}

export const SPARE_RULE_FORMAT = "DAYS HH:MM COUNT, like 'mon-fri 07:45 40' (days: mon…sun, ranges, commas, or daily)";

/** `mon-fri 07:45 40` → a rule, or the reason it is not one. */
export function parseSpareRule(text: string): SpareRule | string {
  const [days, at, count, ...rest] = text.trim().toLowerCase().split(/\s+/);
  const dayList = parseDays(days ?? '');
  if (!dayList || at === undefined || count === undefined || rest.length) return `"${text}" is not a schedule rule: write ${SPARE_RULE_FORMAT}`;
  if (!TIME.test(at)) return `"${at}" is not a time: write HH:MM, 24-hour, like 07:45`;
  if (!/^\d{1,5}$/.test(count)) return `"${count}" is not a count of warm spares: write a whole number`;
  return { days: dayList, at, warm: Number(count) };
}

export function spareRuleText(rule: SpareRule): string {
  return `${daysText(rule.days)} ${rule.at} ${rule.warm}`;
}

/** What the planner makes of a pool's schedule now, for `pool show`, the API and the console. */
export interface ScheduleStatus {
  /** IANA name of the zone the rules are read in (the daemon's). */
  timeZone: string;
  /** Warm spares the planner keeps now: the rule in effect, or a coming one it boots early for. */
  warmTarget: number;
  /** The rule in effect now (text), or null before any rule started (never, once a rule exists: they repeat weekly). */
  inEffect: string | null;
  /** The next change: its rule, when it starts, and when the planner starts booting for it. */
  next: { rule: string; at: string; bootsFrom: string } | null;
  /** The running estimate of one desktop's boot, and how many boots it is measured from (0: assumed). */
  bootSeconds: number;
  bootsMeasured: number;
  /** Desktops of the pool the hosts can run at once (placement's memory and vCPU limits), or null when unknown. */
  capacity: number | null;
  /** Why the schedule cannot be met, one line each, saying what to change. Empty when it can. */
  problems: string[];
}

/** `pool forecast`: per hour of the week, what past sessions needed; what the hosts allow; a proposed schedule. */
export interface HourForecast {
  day: Weekday;
  hour: number;
  /** p95 over the weeks of the peak of concurrent sessions in this hour. */
  desktops: number;
  /** p95 over the weeks of the sessions started in this hour. */
  logins: number;
}

export interface Forecast {
  timeZone: string;
  weeks: number;
  sessionsSeen: number;
  capacity: number | null;
  /** 168 hours, Sunday 00:00 first. */
  hours: HourForecast[];
  proposed: SpareRule[];
  /** Hours whose desktops exceed what the hosts can run, one line each. */
  problems: string[];
}
