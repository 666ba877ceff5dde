// Which service events become live updates (GET /v1/events), and who besides administrators sees each.
import type { EventHub } from '../api/events.js';
import { isEntitled } from '../desktops/broker-plan.js';
import type { DesktopMachine } from '../desktops/pool-machine.js';
import type { PoolService } from '../desktops/pools.js';

export function publishPoolEvents(hub: EventHub, pools: PoolService, machine: DesktopMachine): void {
  machine.on('desktop', (view) => {
    hub.publish({ type: 'desktop', data: view, visibleTo: (who) => view.user === who.name });
    if (view.user !== null) void pools.sessionOf(view.name).then((s) => hub.publish({ type: 'session', data: s, visibleTo: (who) => s.user === who.name }), () => undefined);
  });
  machine.on('desktop-removed', (name) => hub.publish({ type: 'desktop-removed', data: { name } }));
  pools.on('pool', (view) => hub.publish({ type: 'pool', data: view, visibleTo: (who) => isEntitled(view, who.name, who.groups) }));
  pools.on('pool-removed', (name) => hub.publish({ type: 'pool-removed', data: { name } }));
}
