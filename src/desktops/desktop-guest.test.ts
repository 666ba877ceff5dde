// The assign message the host sends a desktop's guest helper: the user's keyboard layout goes along when valid.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AssignMessage } from '../contract/guest.js';
import { assignMessage, guestUid } from './desktop-guest.js';
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
