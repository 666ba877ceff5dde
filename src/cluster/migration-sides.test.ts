// The controller's own host as a migration's source refuses, before anything is sent, what cannot leave it: a VM not
// running, one bound to this host (an owner's confined start, a restore template's clone or build), home leases
// without a joined lockspace. Pure logic over a fake VM manager (the real moves are in test/cluster).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import type { SanlockClient } from './home-leases/sanlock.js';
import { LocalMigrationSide } from './migration-sides.js';

const lease = { user: 'alice', resource: { lockspace: 'ardesia', name: 'home0-alice', path: '/x/homes', offset: 0 } };

test('what the controller host refuses to send, and why', () => {
  const cases: Array<{ state?: string; bound?: string; leases: (typeof lease)[]; sanlock: boolean; want: RegExp | null }> = [
    { state: 'running', leases: [], sanlock: false, want: null },
    { state: 'running', leases: [lease], sanlock: true, want: null },
    { leases: [], sanlock: true, want: /VM_NOT_RUNNING|does not run/ },
    { state: 'paused', leases: [], sanlock: true, want: /does not run/ },
    { state: 'running', bound: 'it was started by bob under the owner rules', leases: [], sanlock: true, want: /stays on the controller's host while it runs: it was started by bob/ },
    { state: 'running', bound: "it runs on its pool's restore template's memory", leases: [], sanlock: true, want: /restore template's memory; stop it and start it elsewhere/ },
    { state: 'running', leases: [lease], sanlock: false, want: /cannot be handed over: this host has not joined the lockspace/ },
  ];
  for (const c of cases) {
    const manager = {
      runtimeOf: () => (c.state ? ({ state: c.state } as never) : undefined),
      boundHereWhy: () => c.bound,
      handOff: async () => undefined,
      arriveHere: async () => undefined as never,
    };
    const side = new LocalMigrationSide(manager, c.sanlock ? ({} as SanlockClient) : undefined, pino({ level: 'silent' }));
    if (c.want === null) assert.doesNotThrow(() => side.check('d1', c.leases), JSON.stringify(c));
    else assert.throws(() => side.check('d1', c.leases), c.want, JSON.stringify(c));
  }
});
