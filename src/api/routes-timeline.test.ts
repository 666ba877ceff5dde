import assert from 'node:assert/strict';
import { test } from 'node:test';
import { timelineWindow } from './routes-timeline.js';

const NOW = Date.parse('2026-12-04T12:00:00Z');

test('timelineWindow: defaults, explicit bounds, refusals', () => {
  assert.deepEqual(timelineWindow({}, NOW), { from: new Date('2026-12-03T12:00:00Z'), to: new Date(NOW) });
  assert.deepEqual(timelineWindow({}, NOW, 7), { from: new Date('2026-11-27T12:00:00Z'), to: new Date(NOW) });
  assert.deepEqual(timelineWindow({ to: '2026-12-01T00:00:00Z' }, NOW), { from: new Date('2026-11-30T00:00:00Z'), to: new Date('2026-12-01T00:00:00Z') });
  assert.deepEqual(timelineWindow({ from: '2026-12-01T00:00:00+01:00', to: '2026-12-02T00:00:00Z' }, NOW), { from: new Date('2026-11-30T23:00:00Z'), to: new Date('2026-12-02T00:00:00Z') });
  assert.throws(() => timelineWindow({ from: '2026-12-02T00:00:00Z', to: '2026-12-01T00:00:00Z' }, NOW), (e: Error & { code?: string }) => e.code === 'BAD_REQUEST' && /must be before/.test(e.message));
  assert.throws(() => timelineWindow({ from: '2020-01-01T00:00:00Z' }, NOW), /longer than a year/);
});
