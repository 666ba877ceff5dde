// The spare planner, pure: given a pool and its desktops, the actions that bring the spare tiers to their targets
// (OpenUDS' cache updater: L1 warm = booted and waiting, L2 cold = cloned but stopped). Level-triggered: the shell
// runs it after every change and on a timer; running the same plan twice is harmless because each action moves a
// desktop out of the state that caused it. Desktops with a user (in session, or a persistent owner's) are never
// touched, except an idle owned one that its own policy re-clones on an image update.
import { isInSession } from '../contract/desktop-states.js';
import type { DesktopState, DesktopView, Pool } from '../contract/pools.js';
import { resetsAtSessionEnd } from './lifecycle.js';

export type SpareAction =
  | { kind: 'create'; name: string } // record in provisioning (no user), clone; lands cold
  | { kind: 'boot'; desktop: string } // fire boot-requested: cold → warm
  | { kind: 'stop'; desktop: string } // fire stop-requested: warm → cold
  | { kind: 'recycle'; desktop: string } // fire image-updated: re-cloned onto the current version
  | { kind: 'retry'; desktop: string } // fire retry on a failed spare: a fresh clone, booted again later
  | { kind: 'retire'; desktop: string; reason: 'above-max' | 'surplus' };

/** Oldest in its state first, then by name: the same view always gives the same answer. */
export function byAge(a: DesktopView, b: DesktopView): number {
  if (a.since !== b.since) return a.since < b.since ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** `<pool>-<n>` with the smallest unused n ≥ 1, `count` of them; deterministic. */
export function nextDesktopNames(pool: string, taken: readonly string[], count: number): string[] {
  const used = new Set(taken);
  const names: string[] = [];
  for (let n = 1; names.length < count; n++) {
    const name = `${pool}-${n}`;
    if (!used.has(name)) names.push(name);
  }
  return names;
}

/** A spare that failed (clone, boot or reset) is tried again from a fresh clone after this long in `failed`, then
 *  twice as long after each retry of it that failed again, up to FAILED_RETRY_MAX_MS: a passing fault (a full disk, a
 *  host under load) heals soon, and a broken image costs each failed spare a boot an hour at most, not every 5 minutes
 *  (a boot storm on a host whose users are in session). */
export const FAILED_RETRY_MS = 5 * 60_000;
export const FAILED_RETRY_MAX_MS = 60 * 60_000;

/** The planner's retry counts that still hold: a spare ready or in a session since, or gone (its name may be used
 *  again), starts again at the first wait. */
export function retriesStillCounted(retries: ReadonlyMap<string, number>, desktops: readonly DesktopView[]): Map<string, number> {
  const unproven = new Set(desktops.filter((d) => d.user === null && d.state !== 'ready').map((d) => d.name));
  return new Map([...retries].filter(([name]) => unproven.has(name)));
}

/** How long a failed spare waits before the planner's next retry, after `retries` of its own that failed again. */
export function failedRetryDelayMs(retries: number): number {
  return Math.min(FAILED_RETRY_MAX_MS, FAILED_RETRY_MS * 2 ** Math.min(Math.max(0, retries), 16));
}

const SPARE_STATES: readonly DesktopState[] = ['provisioning', 'stopped', 'booting', 'ready', 'resetting'];
const RECYCLABLE: readonly DesktopState[] = ['stopped', 'booting', 'ready'];
const newestFirst = (a: DesktopView, b: DesktopView) => byAge(b, a);

/** Outdated desktops out of session that the pool's policy re-clones now: every free spare, and owned ones whose policy resets. */
function outdatedToRecycle(pool: Pool, desktops: readonly DesktopView[], currentVersion: number | null): DesktopView[] {
  if (currentVersion === null) return [];
  const ownedPolicyResets = resetsAtSessionEnd({ persistent: pool.persistent, onLogoff: pool.onLogoff, versionIsCurrent: false });
  return desktops
    .filter((d) => RECYCLABLE.includes(d.state) && d.imageVersion !== currentVersion && (d.user === null || ownedPolicyResets))
    .sort(byAge);
}

/** How many desktops to retire: above max, or spares beyond the targets while above min. */
function surplusCount(pool: Pool, total: number, spares: number): number {
  const aboveMax = total - pool.maxDesktops;
  const extraSpares = Math.min(spares - (pool.warmSpares + pool.coldSpares), total - pool.minDesktops);
  return Math.max(0, aboveMax, extraSpares);
}

/** `restores`: the pool starts its spares by restore now (its template is ready): a restore loads a saved state in
 *  about a second, so warm spares are started without the boot-storm budget. */
export function planSpares(pool: Pool, desktops: readonly DesktopView[], currentVersion: number | null, bootsInFlight: number, bootStormLimit: number, now: number, restores = false, retriesOf: (desktop: string) => number = () => 0): SpareAction[] {
  const live = desktops.filter((d) => d.state !== 'retiring');
  const free = live.filter((d) => d.user === null);
  const spares = free.filter((d) => SPARE_STATES.includes(d.state));
  const outdated = outdatedToRecycle(pool, live, currentVersion);
  const actions: SpareAction[] = [];

  // Retire first, preferring outdated spares (no point re-cloning them), then cold, then warm; never one booting.
  // A spare still landing (cloned, or re-cloned after its session: it comes back cold) is the surplus of a later
  // pass: a booted current spare goes only for the surplus the landing ones cannot cover, so a desktop back from
  // its reset never pushes out a ready spare only to be booted in its place (a wasted boot).
  const surplus = surplusCount(pool, live.length, spares.length);
  const landing = spares.filter((d) => d.state === 'resetting' || d.state === 'provisioning').length;
  const coldFirst = [
    ...outdated.filter((d) => d.user === null).sort(newestFirst),
    ...spares.filter((d) => d.state === 'stopped' && !outdated.includes(d)).sort(newestFirst),
  ].slice(0, surplus);
  const readyRoom = Math.max(0, surplus - coldFirst.length - landing);
  const readyRetired = spares.filter((d) => d.state === 'ready' && !outdated.includes(d)).sort(newestFirst).slice(0, readyRoom);
  const aboveMax = live.length > pool.maxDesktops;
  const retired = new Set([...coldFirst, ...readyRetired].map((d) => d.name));
  for (const name of retired) actions.push({ kind: 'retire', desktop: name, reason: aboveMax ? 'above-max' : 'surplus' });

  const recycled = new Set(outdated.filter((d) => !retired.has(d.name)).map((d) => d.name));
  for (const name of recycled) actions.push({ kind: 'recycle', desktop: name });

  const kept = spares.filter((d) => !retired.has(d.name));
  const warm = kept.filter((d) => (d.state === 'ready' || d.state === 'booting') && !recycled.has(d.name));

  // Too many warm: the newest ready ones go cold (the oldest are handed out first).
  const warmExcess = warm.length - pool.warmSpares;
  const demoted = warm.filter((d) => d.state === 'ready').sort(newestFirst).slice(0, Math.max(0, warmExcess));
  for (const d of demoted) actions.push({ kind: 'stop', desktop: d.name });

  // Too few warm: boot (or restore) the oldest current cold ones, boots within the boot-storm budget.
  const bootBudget = restores ? Infinity : Math.max(0, bootStormLimit - bootsInFlight);
  const bootable = kept.filter((d) => d.state === 'stopped' && !recycled.has(d.name)).sort(byAge);
  const boots = bootable.slice(0, Math.max(0, Math.min(pool.warmSpares - warm.length, bootBudget)));
  for (const d of boots) actions.push({ kind: 'boot', desktop: d.name });

  // Failed spares (never one with a user: an administrator looks at those) get a fresh clone after a pause.
  if (currentVersion !== null) {
    for (const d of free) if (d.state === 'failed' && now - Date.parse(d.since) >= failedRetryDelayMs(retriesOf(d.name))) actions.push({ kind: 'retry', desktop: d.name });
  }

  // Too few in all: new clones land cold; the next pass boots them into the warm tier. No image, no clone.
  if (currentVersion === null) return actions;
  const total = live.length - retired.size;
  const need = Math.max(pool.warmSpares + pool.coldSpares - kept.length, pool.minDesktops - total, 0);
  const creates = Math.min(need, Math.max(0, pool.maxDesktops - total));
  for (const name of nextDesktopNames(pool.name, desktops.map((d) => d.name), creates)) actions.push({ kind: 'create', name });
  return actions;
}

/** How many desktops run which image version, for `pool show` (retiring ones left out). */
export function versionCounts(desktops: readonly DesktopView[]): Array<{ version: number; count: number }> {
  const counts = new Map<number, number>();
  for (const d of desktops) if (d.state !== 'retiring') counts.set(d.imageVersion, (counts.get(d.imageVersion) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => a - b).map(([version, count]) => ({ version, count }));
}

/** Desktops in session on an old version that move to the current one when their session ends. */
export function rolloutPendingAtLogoff(pool: Pool, desktops: ReadonlyArray<Pick<DesktopView, 'name' | 'state' | 'imageVersion'>>, currentVersion: number | null): string[] {
  if (currentVersion === null) return [];
  if (!resetsAtSessionEnd({ persistent: pool.persistent, onLogoff: pool.onLogoff, versionIsCurrent: false })) return [];
  return desktops
    .filter((d) => isInSession(d.state) && d.imageVersion !== currentVersion)
    .map((d) => d.name)
    .sort();
}
