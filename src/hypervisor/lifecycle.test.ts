import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { VmState } from '../contract/vm.js';
import { canPause, canReset, canSaveState, canStart, canStop, canUnpause, type VmEvent, vmTransition } from './lifecycle.js';

const CASES: Array<[VmState, VmEvent, VmState | undefined]> = [
  ['stopped', 'start', 'starting'],
  ['starting', 'launched', 'running'],
  ['starting', 'launch-failed', 'stopped'],
  ['running', 'paused', 'paused'],
  ['paused', 'resumed', 'running'],
  ['running', 'stop', 'stopping'],
  ['stopping', 'exited', 'stopped'],
  ['stopping', 'stop-abandoned', 'running'],
  ['paused', 'exited', 'stopped'],
  ['stopped', 'launched', undefined],
  ['stopped', 'stop', undefined],
  ['running', 'start', undefined],
  ['paused', 'launched', undefined],
  ['stopped', 'paused', undefined],
  ['running', 'save', 'stopping'],
  ['paused', 'save', 'stopping'],
  ['stopping', 'save-failed', 'paused'],
  ['stopped', 'save', undefined],
  ['starting', 'save', undefined],
  ['stopping', 'save', undefined],
  ['running', 'save-failed', undefined],
];

for (const [from, event, to] of CASES) {
  test(`${from} + ${event} → ${to ?? 'refused'}`, () => {
    assert.equal(vmTransition(from, event), to);
  });
}

test('predicates follow the table', () => {
  assert.deepEqual(
    (['stopped', 'starting', 'running', 'paused', 'stopping'] as VmState[]).map((s) => [
      s,
      canStart(s),
      canStop(s),
      canPause(s),
      canUnpause(s),
      canReset(s),
      canSaveState(s),
    ]),
    [
      ['stopped', true, false, false, false, false, false],
      ['starting', false, false, false, false, false, false],
      ['running', false, true, true, false, true, true],
      ['paused', false, true, false, true, true, true],
      ['stopping', false, true, false, false, false, false],
    ],
  );
});
