import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AGENT_SILENT_AFTER_MS, silentAfterMs } from './agent-links.js';

test('an accepted link may be silent through its lockspace join, until its first heartbeat', () => {
  const cases: Array<[string, boolean, { ioTimeoutS: number } | undefined, number]> = [
    ['no home leases: the ordinary silence', false, undefined, AGENT_SILENT_AFTER_MS],
    ['joining with io timeout 2 s: host_dead_seconds 76 + 30', false, { ioTimeoutS: 2 }, 106_000],
    ['joining with sanlock\'s default io timeout 10 s: 140 + 30', false, { ioTimeoutS: 10 }, 170_000],
    ['heartbeating: the ordinary silence, leases or not', true, { ioTimeoutS: 10 }, AGENT_SILENT_AFTER_MS],
  ];
  for (const [what, beating, leases, want] of cases) assert.equal(silentAfterMs(beating, leases), want, what);
});
