// The broker's decision, pure: which desktop a user gets when asking a pool for one. In order: the user's own
// desktop; a warm spare; a cold spare started; a new clone — never someone else's. The shell then runs it:
//   existing   → connect; if it is `ready` (a persistent owner back), fire `assign` first
//   warm       → fire `assign` (ready → assigned; a booting spare is reserved and assigned at guest-ready)
//   cold-start → fire `assign` (stopped → booting, the VM starts; assigned at guest-ready)
//   clone      → record `name` in provisioning with user = requester, clone, and on `provisioned` fire `assign`
import type { BrokerRefusalCode, DesktopState, DesktopView, Pool, SessionView } from '../contract/pools.js';
import { hasSessionStarted, resetsAtSessionEnd } from './lifecycle.js';
import { byAge, nextDesktopNames } from './spares-plan.js';

export interface BrokerRequest {
  user: string;
  groups: readonly string[];
  pool: string;
  /** Desktops this connect was handed and gave up (their session could not start): neither the user's own now (one
   *  whose reset waits for its host must not hold them back) nor handed out to them again. */
  givenUp?: readonly string[];
}

export interface BrokerView {
  pool: Pool;
  /** The version a new clone gets; null when the image (or the pool's fixed version) is missing. */
  targetVersion: number | null;
  /** The desktops of this pool. */
  desktops: readonly DesktopView[];
  /** Live sessions in every pool: a user's home volume follows them, so one session at a time. */
  sessions: readonly SessionView[];
  /** Desktops booting now, in the whole scope of the boot-storm limit (restores are not boots: not counted). */
  bootsInFlight: number;
  bootStormLimit: number;
  /** The pool starts its disposable desktops by restore now (start mode restore, its template ready): such a start
   *  loads a saved state in about a second, so the boot-storm limit does not hold it back. */
  restores?: boolean;
  /** Hosts whose link is gone (an agent cut off or restarting): their spares are not handed out, and a user's own
   *  desktop waiting there without a session is not theirs to have now. */
  unreachableHosts?: ReadonlySet<string>;
  /** Hosts whose agent linked but has not reported since (joining the home leases' lockspace after a restart, up to
   *  host_dead_seconds): what runs there is not known yet and no home can be leased there, so their spares wait. */
  notReadyHosts?: ReadonlySet<string>;
}

export type BrokerDecision =
  | { kind: 'existing'; desktop: DesktopView }
  | { kind: 'warm'; desktop: DesktopView }
  | { kind: 'cold-start'; desktop: DesktopView }
  | { kind: 'clone'; name: string }
  | { kind: 'refuse'; code: BrokerRefusalCode; message: string };

const refuse = (code: BrokerRefusalCode, message: string): BrokerDecision => ({ kind: 'refuse', code, message });

const onUnreachableHost = (view: BrokerView, d: DesktopView): boolean => d.host !== null && (view.unreachableHosts?.has(d.host) ?? false);

export function isEntitled(pool: Pool, user: string, groups: readonly string[]): boolean {
  return pool.entitled.users.includes(user) || groups.some((g) => pool.entitled.groups.includes(g));
}

/** Current-version desktops before outdated ones (a rolling update replaces the latter), then oldest first. */
function bestSpare(view: BrokerView, state: DesktopState, givenUp: readonly string[]): DesktopView | undefined {
  const current = (d: DesktopView) => (d.imageVersion === view.targetVersion ? 0 : 1);
  return view.desktops
    .filter((d) => d.user === null && d.state === state && !givenUp.includes(d.name) && !onUnreachableHost(view, d) && !(d.host !== null && view.notReadyHosts?.has(d.host)))
    .sort((a, b) => current(a) - current(b) || byAge(a, b))[0];
}

// The user's own desktops by preference: a session first, then one that is (or becomes) ready.
const OWN_USABLE: readonly DesktopState[] = ['in-use', 'disconnected', 'assigned', 'ready', 'booting', 'provisioning'];

/** Whether starting `desktop` (a cold spare, a new clone, the user's own stopped one) is a restore, not a boot:
 *  the pool restores and the disk is disposable (lifecycle.ts startEffect: a persistent owner's kept disk boots). */
function startIsRestore(view: BrokerView, desktop?: DesktopView): boolean {
  if (!view.restores) return false;
  if (!desktop || desktop.user === null) return true;
  return resetsAtSessionEnd({ persistent: view.pool.persistent, onLogoff: view.pool.onLogoff, versionIsCurrent: desktop.imageVersion === view.targetVersion });
}

function bootStormRefusal(view: BrokerView, desktop?: DesktopView): BrokerDecision | undefined {
  if (view.bootsInFlight < view.bootStormLimit || startIsRestore(view, desktop)) return undefined;
  return refuse('POOL_BOOT_STORM', `${view.bootsInFlight} desktops are starting at once (the limit is ${view.bootStormLimit}): try again in a moment`);
}

/** The user's own desktop in this pool, or why it cannot be had right now; undefined when they have none usable. */
function ownDesktop(user: string, view: BrokerView, mine: readonly DesktopView[]): BrokerDecision | undefined {
  const usable = mine.filter((d) => OWN_USABLE.includes(d.state)).sort((a, b) => OWN_USABLE.indexOf(a.state) - OWN_USABLE.indexOf(b.state) || byAge(a, b))[0];
  // A session runs on while its host is cut off (its display reconnects); one not yet started there cannot start now.
  if (usable && !hasSessionStarted(usable.state) && onUnreachableHost(view, usable)) {
    return refuse('DESKTOP_HOST_UNREACHABLE', `your desktop ${usable.name} is on host ${usable.host}, which the controller cannot reach now: it is yours again once ${usable.host} is back`);
  }
  if (usable) return { kind: 'existing', desktop: usable };
  const ending = mine.find((d) => d.state === 'logging-off' || d.state === 'resetting');
  if (ending) return refuse('POOL_DESKTOP_BUSY', `your desktop ${ending.name} is ${ending.state === 'resetting' ? 'being reset' : 'logging off'}: try again in a moment`);
  const stopped = [...mine].filter((d) => d.state === 'stopped').sort(byAge)[0];
  if (stopped) return bootStormRefusal(view, stopped) ?? { kind: 'cold-start', desktop: stopped };
  if (mine.length >= view.pool.maxDesktopsPerUser) {
    const names = mine.map((d) => `${d.name} (${d.state})`).join(', ');
    return refuse('POOL_USER_LIMIT', `you already have ${mine.length} desktop(s) in pool ${view.pool.name}, the most allowed: ${names}; ask an administrator to reset or destroy one`);
  }
  return undefined;
}

/** A new clone if the image, the pool size and the boot-storm limit allow one. */
function newClone(view: BrokerView): BrokerDecision {
  const { pool } = view;
  if (view.targetVersion === null) {
    const which = pool.version === 'latest' ? `image ${pool.image} has no published version` : `version ${pool.version} of image ${pool.image} is missing`;
    return refuse('IMAGE_NO_VERSION', `no spare desktop is left and ${which}, so none can be cloned`);
  }
  const live = view.desktops.filter((d) => d.state !== 'retiring');
  if (live.length >= pool.maxDesktops) {
    // Desktops being reset come back as spares: saying how many tells the user a retry soon may work.
    const resetting = live.filter((d) => d.state === 'resetting').length;
    const soon = resetting === 0 ? '' : resetting === 1 ? ' (1 of them is being reset and comes back as a spare)' : ` (${resetting} of them are being reset and come back as spares)`;
    return refuse('POOL_FULL', `all ${pool.maxDesktops} desktops of pool ${pool.name} are taken and none is spare${soon}: try again later`);
  }
  const storm = bootStormRefusal(view);
  if (storm) return storm;
  const [name] = nextDesktopNames(pool.name, view.desktops.map((d) => d.name), 1);
  return { kind: 'clone', name: name! };
}

export function brokerDecide(request: BrokerRequest, view: BrokerView): BrokerDecision {
  const { pool } = view;
  if (request.pool !== pool.name) throw new RangeError(`broker: request for pool ${request.pool} planned against pool ${pool.name}`);
  if (!isEntitled(pool, request.user, request.groups)) {
    return refuse('POOL_NOT_ENTITLED', `${request.user} is not entitled to pool ${pool.name}`);
  }
  const elsewhere = view.sessions.find((s) => s.user === request.user && s.pool !== pool.name);
  if (elsewhere) {
    return refuse('HOME_LEASED', `your home volume is in use by desktop ${elsewhere.desktop} of pool ${elsewhere.pool}: log off there first, or open that desktop`);
  }
  const givenUp = request.givenUp ?? [];
  const mine = view.desktops.filter((d) => d.user === request.user && d.state !== 'retiring' && !givenUp.includes(d.name));
  const own = ownDesktop(request.user, view, mine);
  if (own) return own;
  const warm = bestSpare(view, 'ready', givenUp) ?? bestSpare(view, 'booting', givenUp);
  if (warm) return { kind: 'warm', desktop: warm };
  const cold = bestSpare(view, 'stopped', givenUp);
  if (cold) return bootStormRefusal(view, cold) ?? { kind: 'cold-start', desktop: cold };
  return newClone(view);
}

/** The view as it will be once the shell has run `decision`: what lets several requests be planned at once. */
export function applyBrokerDecision(view: BrokerView, request: BrokerRequest, decision: BrokerDecision): BrokerView {
  const claim = (name: string, patch: Partial<DesktopView>): DesktopView[] =>
    view.desktops.map((d) => (d.name === name ? { ...d, user: request.user, ...patch } : d));
  switch (decision.kind) {
    case 'existing':
    case 'refuse':
      return view;
    case 'warm':
      return { ...view, desktops: claim(decision.desktop.name, {}) };
    case 'cold-start':
      return { ...view, desktops: claim(decision.desktop.name, { state: 'booting' }), bootsInFlight: view.bootsInFlight + (startIsRestore(view, decision.desktop) ? 0 : 1) };
    case 'clone': {
      const since = view.desktops.reduce((latest, d) => (d.since > latest ? d.since : latest), '');
      const clone: DesktopView = { name: decision.name, pool: view.pool.name, state: 'provisioning', user: request.user, host: null, imageVersion: view.targetVersion!, since };
      return { ...view, desktops: [...view.desktops, clone], bootsInFlight: view.bootsInFlight + (startIsRestore(view) ? 0 : 1) };
    }
  }
}

/** Plans requests in order against one view, so that no two get the same spare and the limits hold across them. */
export function brokerDecideMany(requests: readonly BrokerRequest[], view: BrokerView): BrokerDecision[] {
  const decisions: BrokerDecision[] = [];
  let working = view;
  for (const request of requests) {
    const decision = brokerDecide(request, working);
    decisions.push(decision);
    working = applyBrokerDecision(working, request, decision);
  }
  return decisions;
}
