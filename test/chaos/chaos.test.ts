// The kill -9 battery, short: a random seed each run (printed; replay with ARDESIA_CHAOS_SEED=N), a dozen
// operations with the daemon SIGKILLed about every third one, every invariant checked after each restart.
// `npm run chaos` runs the long battery (200 operations) and prints the figures docs/reliability.md records.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runBattery } from './battery.js';

test('kill -9 battery: no desktop lost or doubled, no orphan QEMU, no leaked clone, no home twice, store = processes', { timeout: 40 * 60_000 }, async (t) => {
  const seed = Number(process.env.ARDESIA_CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const report = await runBattery({ seed, operations: Number(process.env.ARDESIA_CHAOS_OPS ?? 12), killEvery: 3, log: (line) => t.diagnostic(line) });
  t.diagnostic(`chaos: seed ${report.seed}: ${report.operations} operations, ${report.kills} kills, ${report.checks} checks, ${report.cut} cut, refused ${JSON.stringify(report.refused)}, ${report.seconds} s`);
  assert.ok(report.kills >= 1, `seed ${seed}: the script must kill the daemon at least once`);
  assert.deepEqual(report.violations, [], `seed ${seed}: invariants broken (replay with ARDESIA_CHAOS_SEED=${seed})`);
  assert.deepEqual(report.findings, [], `seed ${seed}: findings (replay with ARDESIA_CHAOS_SEED=${seed})`);
});
