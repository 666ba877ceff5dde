import assert from 'node:assert/strict';
import { test } from 'node:test';
import { homeLogViolations, type TrialSession } from './cluster-invariants.js';
import { MIN_LOGINS, planClusterTrial } from './cluster-plan.js';

const sessions: TrialSession[] = [
  { sid: 's1', user: 'u0', seenLines: 3 },
  { sid: 's2', user: 'u0' },
  { sid: 's9', user: 'u1' },
];
const log = (...rows: Array<[string, number]>) => rows.map(([s, n]) => `${s} ${n}\n`).join('');

test('home logs: one writer after another passes; interleaving, rewinds, lost lines, strangers and garbage do not', () => {
  const rows: Array<[string, string, string[]]> = [
    ['one session then the next', log(['s1', 1], ['s1', 2], ['s1', 3], ['s2', 1], ['s2', 2]), []],
    ["a line cut short by the power loss, at the end only", `${log(['s1', 1], ['s1', 2], ['s1', 3])}s1 `, []],
    ['the last probed line lost with the power (its sync under way)', log(['s1', 1], ['s1', 2]), []],
    ['an empty home: nobody probed, nothing lost', '', ['lost-writes']],
    ['two writers at once', log(['s1', 1], ['s2', 1], ['s1', 2], ['s1', 3]), ['two-writers']],
    ['the first session writes on after the next took over', log(['s1', 1], ['s1', 2], ['s1', 3], ['s2', 1], ['s2', 2], ['s1', 4]), ['two-writers']],
    ['a home rolled back under a session', log(['s1', 1], ['s1', 2], ['s1', 3], ['s2', 1], ['s2', 2], ['s2', 1]), ['rewind']],
    ['a line twice', log(['s1', 1], ['s1', 2], ['s1', 2], ['s1', 3]), ['rewind']],
    ['probed 3, the home has 1', log(['s1', 1]), ['lost-writes']],
    ["another user's session in this home", log(['s1', 1], ['s1', 2], ['s1', 3], ['s9', 1]), ['unknown-writer']],
    ['garbage in the middle', `${log(['s1', 1])}\0\0\0\n${log(['s1', 2], ['s1', 3])}`, ['garbage']],
  ];
  for (const [why, text, kinds] of rows) {
    assert.deepEqual(homeLogViolations('u0', text, sessions).map((v) => v.kind), kinds, why);
  }
});

test('cluster trial plans: every script has its logins, even a seed whose draws were all logoffs; its users and faults stay as drawn', () => {
  // Seed 1849085475 drew eight logoffs for the short trial (3 users, 2 hosts): the run tested nothing and failed.
  const short = { steps: 8, users: 3, hosts: 2, faultEvery: 6, maxFaultDelayMs: 4000, required: ['kill', 'cut-off'] as const };
  const steps = planClusterTrial({ ...short, seed: 1849085475 });
  assert.deepEqual(steps.map((s) => s.op), ['login', 'login', 'logoff', 'logoff', 'logoff', 'logoff', 'logoff', 'logoff']);
  // What that run logged: u0 u0 u2 u2 u2 u0 u1 u2, power lost at step 1 and the link cut at step 3, both of a1.
  assert.deepEqual(steps.map((s) => s.user), [0, 0, 2, 2, 2, 0, 1, 2]);
  assert.deepEqual(steps.flatMap((s, i) => (s.fault ? [`${i}:${s.fault.kind}:${s.fault.host}`] : [])), ['1:kill:0', '3:cut-off:0']);
  for (let seed = 1; seed <= 2000; seed++) {
    const ops = planClusterTrial({ ...short, seed }).map((s) => s.op);
    assert.ok(ops.filter((op) => op === 'login').length >= MIN_LOGINS, `seed ${seed}: ${ops.join(',')}`);
  }
});

test('cluster trial plans: the same seed, the same script; one host faulted at a time; required faults always drawn', () => {
  const o = { seed: 42, steps: 10, users: 3, hosts: 2, faultEvery: 50, maxFaultDelayMs: 3000, required: ['kill', 'cut-off'] as const };
  assert.deepEqual(planClusterTrial(o), planClusterTrial(o));
  for (let seed = 1; seed <= 200; seed++) {
    const steps = planClusterTrial({ ...o, seed, faultEvery: 1 + (seed % 5) });
    const kinds = steps.flatMap((s) => (s.fault ? [s.fault.kind] : []));
    assert.ok(kinds.includes('kill') && kinds.includes('cut-off'), `seed ${seed}: ${kinds.join(',')}`);
    let busyUntil = -1;
    steps.forEach((s, i) => {
      if (!s.fault) return;
      assert.ok(i > busyUntil, `seed ${seed}: step ${i} faults a host while another is still down`);
      assert.ok(i + s.fault.backAfterSteps < steps.length || s.fault.backAfterSteps === 0, `seed ${seed}: step ${i}'s host comes back within the script`);
      busyUntil = i + s.fault.backAfterSteps;
    });
  }
});
