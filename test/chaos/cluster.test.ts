// The cluster trial, short: a random seed each run (printed; replay with ARDESIA_CHAOS_SEED=N), eight logins and
// logoffs (two logins at least) with at least one power loss and one cut-off among them, one more login once every host
// is back (it must work), every home read back from its disk at the end.
// ARDESIA_CHAOS_START_MODE=restore: the pool restores template clones (on the agents' hosts too) instead of booting.
// `npm run chaos:cluster` runs the long trial and prints the figures docs/reliability.md records.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runClusterTrial } from './cluster-trial.js';

test('cluster trial: host power losses, cut-offs and agent restarts during logins and logoffs leave 0 homes with two writers and 0 lost homes', { timeout: 40 * 60_000 }, async (t) => {
  const seed = Number(process.env.ARDESIA_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
  t.diagnostic(`chaos:cluster seed ${seed}`);
  const report = await runClusterTrial({ seed, steps: Number(process.env.ARDESIA_CHAOS_STEPS ?? 8), faultEvery: 6, required: ['kill', 'cut-off'], ...(process.env.ARDESIA_CHAOS_START_MODE === 'restore' ? { startMode: 'restore' as const } : {}), log: (line) => t.diagnostic(line) });
  t.diagnostic(`chaos:cluster: ${JSON.stringify(report)}`);
  assert.ok(report.faults.kill >= 1 && report.faults['cut-off'] >= 1, `seed ${seed}: the script must cut power and a link at least once`);
  assert.deepEqual(report.violations, [], `seed ${seed}: homes damaged (replay with ARDESIA_CHAOS_SEED=${seed})`);
  assert.deepEqual(report.findings, [], `seed ${seed}: findings (replay with ARDESIA_CHAOS_SEED=${seed})`);
  assert.ok(report.sessions >= 1 && report.homesChecked >= 1, `seed ${seed}: some guest must have written into a home (refused: ${JSON.stringify(report.refused)})`);
});
