// The assign message the host sends a desktop's guest helper: the user's keyboard layout goes along when valid.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AssignMessage } from '../contract/guest.js';
import { parseGuestLine } from '../agent/guest-channel.js';
import { assignMessage, clipboardReadyAfter, guestUid } from './desktop-guest.js';
import { HOME_DISK_SERIAL } from './service.js';

const CASES: Array<{ layout: string | null | undefined; expect: string | undefined }> = [
  { layout: 'de', expect: 'de' },
  { layout: 'us', expect: 'us' },
  { layout: 'us-intl', expect: 'us-intl' },
  { layout: 'ch_fr', expect: 'ch_fr' },
  { layout: null, expect: undefined },
  { layout: undefined, expect: undefined },
  { layout: 'de; rm -rf /', expect: undefined },
  { layout: 'DE', expect: undefined },
  { layout: 'de"x', expect: undefined },
];

for (const c of CASES) {
  test(`assign with layout ${JSON.stringify(c.layout)} → ${c.expect ?? 'no layout'}`, () => {
    const m = assignMessage('alice', c.layout);
    assert.deepEqual(m, { type: 'assign', user: 'alice', uid: guestUid('alice'), homeSerial: HOME_DISK_SERIAL, ...(c.expect ? { keyboardLayout: c.expect } : {}) });
    assert.ok(AssignMessage.safeParse(m).success, 'the wire contract accepts it');
  });
}

// The session's clipboard agent as the helper reports it: the portal holds a paste until it is up.
const CLIPBOARD_CASES: Array<{ before: boolean; line: string; after: boolean }> = [
  { before: false, line: '{"type":"clipboard","state":"ready"}', after: true },
  { before: true, line: '{"type":"clipboard","state":"waiting"}', after: false },
  { before: true, line: '{"type":"session-started","user":"alice"}', after: false },
  { before: true, line: '{"type":"session-ended","user":"alice","reason":"logoff"}', after: false },
  { before: true, line: '{"type":"ready","version":"1"}', after: false },
  { before: false, line: '{"type":"pong","user":"alice","clipboard":"ready"}', after: true },
  { before: true, line: '{"type":"pong","user":"alice","clipboard":"waiting"}', after: false },
  { before: true, line: '{"type":"pong","user":"alice"}', after: true },
  { before: true, line: '{"type":"pong"}', after: false },
  { before: true, line: '{"type":"error","message":"x"}', after: true },
];

for (const c of CLIPBOARD_CASES) {
  test(`clipboard ${c.before ? 'ready' : 'not ready'} + ${c.line} → ${c.after ? 'ready' : 'not ready'}`, () => {
    const message = parseGuestLine(c.line);
    assert.ok(!(message instanceof Error), `the contract accepts ${c.line}`);
    assert.equal(clipboardReadyAfter(c.before, message), c.after);
  });
}

test('a clipboard state outside the contract is refused', () => {
  assert.ok(parseGuestLine('{"type":"clipboard","state":"maybe"}') instanceof Error);
});
