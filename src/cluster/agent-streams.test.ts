import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { type PendingStream, streamClaimProblem } from './agent-streams.js';

const secret = 'k'.repeat(43);
const pending: PendingStream = { host: 'a1', vm: 'v1', secretSha256: createHash('sha256').update(secret).digest(), expiresAt: 1_000 };

test('a stream is claimed only by its own host, with its secret, before it expires', () => {
  const rows: Array<[string, PendingStream | undefined, string, string, number, RegExp | undefined]> = [
    ['its host, its secret, in time', pending, 'a1', secret, 999, undefined],
    ['at the last millisecond', pending, 'a1', secret, 1_000, undefined],
    ['late', pending, 'a1', secret, 1_001, /not dialled in time/],
    ['another host', pending, 'a2', secret, 0, /for host a1's agent, not a2's/],
    ['a wrong secret', pending, 'a1', 'j'.repeat(43), 0, /secret is wrong/],
    ['a secret of another length', pending, 'a1', 'short', 0, /secret is wrong/],
    ['nothing waiting (used or never asked)', undefined, 'a1', secret, 0, /no such stream is waiting/],
  ];
  for (const [why, p, host, s, now, want] of rows) {
    const problem = streamClaimProblem(p, host, s, now);
    if (want === undefined) assert.equal(problem, undefined, why);
    else assert.match(problem ?? '', want, why);
  }
});
