import assert from 'node:assert/strict';
import { test } from 'node:test';
import { timelineText } from './timeline-text.js';

test('timelineText: a row per stage, skipped ones said so, the total in the heading', () => {
  const text = timelineText({
    id: 'x', desktop: 'p-1', pool: 'p', user: 'ann', startedAt: '2026-12-04T10:00:00.000Z', totalMs: 1500, complete: true,
    stages: [
      { stage: 'request', at: '2026-12-04T10:00:00.000Z', ms: 0, skipped: false, detail: null },
      { stage: 'spare', at: '2026-12-04T10:00:00.000Z', ms: 0, skipped: true, detail: 'none' },
      { stage: 'first-frame', at: '2026-12-04T10:00:01.500Z', ms: 1500, skipped: false, detail: null },
    ],
  });
  const lines = text.split('\n');
  assert.equal(lines[0], 'login of ann on p-1 (pool p) at 2026-12-04T10:00:00.000Z: 1.50 s to the first frame');
  assert.match(lines[1]!, /^STAGE\s+TOOK\s+AT\s+DETAIL$/);
  assert.match(lines[3]!, /^spare\s+skipped\s+2026-12-04T10:00:00.000Z\s+none$/);
  assert.match(lines[4]!, /^first-frame\s+\+1\.50 s\s+2026-12-04T10:00:01.500Z$/);
});
