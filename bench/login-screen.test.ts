import assert from 'node:assert/strict';
import { test } from 'node:test';
import { modeRatio, modeRows, runsFromArgs, type ScreenRun } from './login-screen.js';

const runs: ScreenRun[] = [
  { mode: 'warm', loginMs: 40_000, openMs: 39_000, stages: { broker: 10, 'session-started': 30_000 } },
  { mode: 'restored', loginMs: 10_000, openMs: 9_000, stages: { broker: 12, 'session-started': 6_000 } },
  { mode: 'warm', loginMs: 60_000, openMs: 59_000, stages: { broker: 20, 'session-started': 50_000, 'home-mounted': 9_000 } },
  { mode: 'restored', loginMs: 20_000, openMs: 19_000, stages: { broker: 14, 'session-started': 8_000 } },
];

test('rows per mode: login and Open to screen, then the stages that happened, in timeline order', () => {
  const rows = modeRows('warm', runs);
  assert.deepEqual(rows.map((r) => [r.label, r.n, r.median]), [
    ['warm: login submit → xterm on screen', 2, 50_000],
    ['warm: Open → xterm on screen', 2, 49_000],
    ['warm: timeline stage broker', 2, 15],
    ['warm: timeline stage home-mounted', 1, 9_000],
    ['warm: timeline stage session-started', 2, 40_000],
  ]);
  assert.deepEqual(modeRows('restored', runs.filter((r) => r.mode === 'warm')), []);
});

test('the ratio is median restored over median warm, and needs both modes', () => {
  assert.equal(modeRatio(runs, 'loginMs'), 15_000 / 50_000);
  assert.equal(modeRatio(runs, 'openMs'), 14_000 / 49_000);
  assert.equal(modeRatio(runs.filter((r) => r.mode === 'warm'), 'loginMs'), null);
});

test('--runs takes a whole number from 1 to 20, 3 without it', () => {
  assert.equal(runsFromArgs(['login-screen']), 3);
  assert.equal(runsFromArgs(['login-screen', '--runs', '2']), 2);
  assert.throws(() => runsFromArgs(['--runs', '0']), /1 to 20/);
  assert.throws(() => runsFromArgs(['--runs', 'x']), /1 to 20/);
});
