// The schedule of warm spares, pure: given a pool's rules, now, the boot estimate, the boot-storm limit and the hosts'
// capacity → the warm spares to keep now (booting early enough that a rule's count is warm when it starts) and why a
// rule cannot be met. Rules are read in the daemon's local time zone; daylight-saving changes go through local-time.ts.
import { type SpareRule, spareRuleText, WEEKDAYS, type ScheduleStatus } from '../contract/pool-schedule.js';
import { localDatePlus, localToInstant } from '../lib/local-time.js';

/** Until a pool's first boot is measured, a desktop is assumed to boot in this long. */
export const ASSUMED_BOOT_MS = 120_000;
/** Weight of the newest boot in the running estimate (an exponential moving average). */
export const BOOT_ESTIMATE_WEIGHT = 0.3;

export interface BootEstimate {
  ms: number;
  samples: number;
}

/** The running estimate after one more measured boot. */
export function bootEstimateAfter(before: BootEstimate | null, bootMs: number): BootEstimate {
  if (!before || before.samples === 0) return { ms: Math.round(bootMs), samples: 1 };
  return { ms: Math.round(before.ms * (1 - BOOT_ESTIMATE_WEIGHT) + bootMs * BOOT_ESTIMATE_WEIGHT), samples: before.samples + 1 };
}

export interface ScheduleInput {
  rules: readonly SpareRule[];
  now: number;
  timeZone: string;
  boot: BootEstimate | null;
  /** Desktops starting at once over every pool (serve --boot-storm-limit). */
  bootStormLimit: number;
  /** Desktops of this pool the hosts can run at once (its running ones included), or null when unknown. */
  capacity: number | null;
  /** The pool's desktops in session now: they hold part of the capacity. */
  inSession: number;
  /** What the capacity is measured in, for the messages ("2048 MiB, 2 vCPUs each"). */
  sizeText: string;
}

interface RuleStart {
  at: number;
  rule: SpareRule;
}

/** Every start of every rule from 8 local days back to 8 ahead, in time order (a rule repeats weekly). */
export function ruleStarts(rules: readonly SpareRule[], now: number, timeZone: string): RuleStart[] {
  const starts: RuleStart[] = [];
  for (let d = -8; d <= 8; d++) {
    const date = localDatePlus(now, d, timeZone);
    for (const rule of rules) {
      if (!rule.days.includes(WEEKDAYS[date.weekday]!)) continue;
      const [hh, mm] = rule.at.split(':').map(Number);
      starts.push({ at: localToInstant(date.year, date.month, date.day, hh!, mm!, timeZone), rule });
    }
  }
  // Same instant: the later-listed rule wins, as the last one written.
  return starts.sort((a, b) => a.at - b.at || rules.indexOf(a.rule) - rules.indexOf(b.rule));
}

/**
 * How long before a start the planner begins booting: waves of `stormLimit` boots from the count before to the count
 * after, each one boot long, plus one wave for cloning and the rest of the host's work.
 */
export function leadMs(from: number, to: number, boot: BootEstimate | null, bootStormLimit: number): number {
  const boots = Math.max(0, to - from);
  if (boots === 0) return 0;
  return (Math.ceil(boots / Math.max(1, bootStormLimit)) + 1) * (boot?.ms ?? ASSUMED_BOOT_MS);
}

const iso = (ms: number) => new Date(ms).toISOString();

export function scheduleNow(input: ScheduleInput): ScheduleStatus {
  const { rules, now, timeZone, boot, bootStormLimit, capacity } = input;
  const fit = (n: number) => (capacity === null ? n : Math.min(n, capacity));
  const starts = ruleStarts(rules, now, timeZone);
  const past = starts.filter((s) => s.at <= now);
  const current = past[past.length - 1] ?? null;
  let warm = current?.rule.warm ?? 0;
  let next: ScheduleStatus['next'] = null;
  // Each coming start is booted for from the count of the start before it (stable: does not move as spares come up).
  let before = warm;
  for (const s of starts.filter((x) => x.at > now && x.at <= now + 7 * 86_400_000)) {
    const from = s.at - leadMs(fit(before), fit(s.rule.warm), boot, bootStormLimit);
    if (!next && s.rule.warm !== before) next = { rule: spareRuleText(s.rule), at: iso(s.at), bootsFrom: iso(Math.min(from, s.at)) };
    if (from <= now) warm = Math.max(warm, s.rule.warm);
    before = s.rule.warm;
  }
  const room = capacity === null ? warm : Math.max(0, capacity - input.inSession);
  return {
    timeZone,
    warmTarget: Math.min(warm, room),
    inEffect: current ? spareRuleText(current.rule) : null,
    next,
    bootSeconds: Math.round((boot?.ms ?? ASSUMED_BOOT_MS) / 1000),
    bootsMeasured: boot?.samples ?? 0,
    capacity,
    problems: scheduleProblems(input),
  };
}

/** A rule asking more warm desktops than the hosts can run of this pool cannot be met: say which and by how much. */
function scheduleProblems(input: ScheduleInput): string[] {
  if (input.capacity === null) return [];
  const capacity = input.capacity;
  return input.rules
    .filter((r) => r.warm > capacity)
    .map(
      (r) =>
        `rule '${spareRuleText(r)}' asks for ${r.warm} warm desktops but the hosts can run ${capacity} of this pool (${input.sizeText}): ` +
        'lower the count, add a host, raise the overcommit (serve --memory-overcommit, --cpu-overcommit) or make the desktops smaller',
    );
}
