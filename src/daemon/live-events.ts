// Which service events become live updates (GET /v1/events), and who besides administrators sees each.
import type { EventHub, LiveEventType } from '../api/events.js';
import { auditFeed } from '../audit/log.js';
import type { Operations } from '../images/operations.js';
import { isEntitled } from '../desktops/broker-plan.js';
import type { DesktopMachine } from '../desktops/pool-machine.js';
import { type PoolService, viewForCaller } from '../desktops/pools.js';
import type { ThinClientService } from '../thinclients/inventory.js';
import type { HostService } from '../cluster/hosts.js';

export function publishPoolEvents(hub: EventHub, pools: PoolService, machine: DesktopMachine): void {
  machine.on('desktop', (view) => {
    hub.publish({ type: 'desktop', data: view, visibleTo: (who) => view.user === who.name });
    if (view.user !== null) void pools.sessionOf(view.name).then((s) => hub.publish({ type: 'session', data: s, visibleTo: (who) => s.user === who.name }), () => undefined);
  });
  // The portal holds a paste until the session's clipboard agent is up: it learns so from this session event.
  machine.on('clipboard', (name) => void pools.sessionOf(name).then((s) => hub.publish({ type: 'session', data: s, visibleTo: (who) => s.user === who.name }), () => undefined));
  machine.on('desktop-removed', (name) => hub.publish({ type: 'desktop-removed', data: { name } }));
  // The console's login timeline bar is complete once the first frame went out.
  pools.on('login-stage', (s) => {
    if (s.stage === 'first-frame') void pools.sessionOf(s.desktop).then((info) => hub.publish({ type: 'session', data: info, visibleTo: (who) => info.user === who.name }), () => undefined);
  });
  // Entitled users get the pool too, so its hosts stay out of it (the console reloads from the API, which gives admins all).
  pools.on('pool', (view) => hub.publish({ type: 'pool', data: viewForCaller(view, { admin: false }), visibleTo: (who) => isEntitled(view, who.name, who.groups) }));
  pools.on('pool-removed', (name) => hub.publish({ type: 'pool-removed', data: { name } }));
}

/** Audited changes of images, users, groups and thin clients, and long operations: administrators only. */
export function publishAdminEvents(hub: EventHub, operations: Operations): void {
  const typeOf: Array<[string, LiveEventType]> = [['image.', 'image'], ['user.', 'user'], ['group.', 'user'], ['thinclient.', 'thinclient']];
  auditFeed.on('appended', (change) => {
    const type = typeOf.find(([prefix]) => change.action.startsWith(prefix))?.[1];
    if (type) hub.publish({ type, data: change });
  });
  operations.on('changed', (op) => hub.publish({ type: 'operation', data: op }));
}

/** A thin client booting, seen by its kiosk, or starting/ending a session: administrators only. */
export function publishThinClientEvents(hub: EventHub, thinClients: ThinClientService): void {
  thinClients.on('changed', (view) => hub.publish({ type: 'thinclient', data: view }));
}

/** A host drained, undrained, in maintenance or removed: administrators only. */
export function publishHostEvents(hub: EventHub, hosts: HostService): void {
  hosts.on('host', (view) => hub.publish({ type: 'host', data: view }));
  hosts.on('host-removed', (name) => hub.publish({ type: 'host-removed', data: { name } }));
}
