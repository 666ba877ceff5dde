import assert from 'node:assert/strict';
import { test } from 'node:test';
import { leadershipDecide, leadershipTiming, type LeadershipSeen, type LeadershipState, type LeadershipStep } from './leadership.js';

const timing = leadershipTiming(15_000, 5_000);
const row = (term: number, expired: boolean, holder = 'a', address = 'https://a:8443'): LeadershipSeen => ({ kind: 'row', row: { holder, address, term, expired } });
const standby: LeadershipState = { role: 'standby' };
const leader = (term: number): LeadershipState => ({ role: 'leader', term });

const CASES: Array<[string, LeadershipState, LeadershipSeen, LeadershipStep['do'], string?]> = [
  ['standby, never led (the migration row, expired): acquire from term 0', standby, row(0, true, '', ''), 'acquire', '0'],
  ['standby, the leader lease expired: acquire from its term', standby, row(7, true), 'acquire', '7'],
  ['standby, the lease still runs: wait, naming the leader', standby, row(7, false), 'wait', 'a https://a:8443'],
  ['standby, no database: wait, no leader known', standby, { kind: 'unreachable', sinceRenewedMs: 0 }, 'wait', ''],
  ['leader, renewed: keep', leader(3), { kind: 'renewed' }, 'keep'],
  ['leader, renewal matched nothing, another term leads: step down', leader(3), row(4, false, 'b', 'https://b:8443'), 'step-down', 'term 4 is led by b at https://b:8443; this controller held term 3'],
  ['leader, renewal matched nothing, a later term already expired: step down too', leader(3), row(5, true, 'b'), 'step-down'],
  ['leader, database silent within the lease: keep, retry', leader(3), { kind: 'unreachable', sinceRenewedMs: 14_999 }, 'keep'],
  ['leader, database silent for a whole lease: step down', leader(3), { kind: 'unreachable', sinceRenewedMs: 15_000 }, 'step-down', 'the database did not confirm term 3 within the 15000 ms lease'],
];

for (const [name, state, seen, expected, detail] of CASES) {
  test(`leadership: ${name}`, () => {
    const step = leadershipDecide(state, seen, timing);
    assert.equal(step.do, expected);
    if (detail === undefined) return;
    if (step.do === 'acquire') assert.equal(String(step.fromTerm), detail);
    if (step.do === 'wait') assert.equal(step.leader ? `${step.leader.holder} ${step.leader.address}` : '', detail);
    if (step.do === 'step-down') assert.equal(step.reason, detail);
  });
}

test('leadership timing: the renew interval must leave a second try within the lease', () => {
  assert.deepEqual(leadershipTiming(3_000, 1_500), { leaseMs: 3_000, renewMs: 1_500 });
  assert.throws(() => leadershipTiming(3_000, 1_501), /at most half of --controller-lease/);
  assert.throws(() => leadershipTiming(3_000, 0), /at most half/);
});

test('leadership: the lease length decides when a silent database deposes the leader', () => {
  const short = leadershipTiming(2_000, 500);
  assert.equal(leadershipDecide(leader(1), { kind: 'unreachable', sinceRenewedMs: 2_000 }, short).do, 'step-down');
  assert.equal(leadershipDecide(leader(1), { kind: 'unreachable', sinceRenewedMs: 2_000 }, timing).do, 'keep');
});
