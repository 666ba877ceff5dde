import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bootDecision } from '../thinclients/inventory.js';
import { MacParams, ThinClientCreate, ThinClientPatch } from './thinclients.js';

test('boot decision: disabled never boots; new boots unless approval is required', () => {
  for (const requireApproval of [false, true]) {
    assert.equal(bootDecision('disabled', { requireApproval }), 'disabled');
    assert.equal(bootDecision('enabled', { requireApproval }), 'boot');
  }
  assert.equal(bootDecision('new', { requireApproval: false }), 'boot');
  assert.equal(bootDecision('new', { requireApproval: true }), 'awaiting-approval');
});

test('MACs are normalised as iPXE prints them', () => {
  assert.equal(MacParams.parse({ mac: '52-54-00-AB-CD-EF' }).mac, '52:54:00:ab:cd:ef');
  assert.equal(MacParams.safeParse({ mac: '52:54:00:ab:cd' }).success, false);
  assert.equal(MacParams.safeParse({ mac: '../../etc/passwd' }).success, false);
});

const GOOD: ThinClientPatch[] = [
  { name: 'desk-12', place: 'Room 2.14, window', pool: 'office', keyboardLayout: 'fr(bepo)', resolution: '1920x1080', bootParams: 'quiet video=efifb' },
  { name: null, place: null, pool: null, bootParams: null },
  { state: 'disabled' },
  {},
];
const BAD: Array<[string, unknown]> = [
  ['a newline in boot params (would add an iPXE command)', { bootParams: 'quiet\nshell' }],
  ['an iPXE expansion in boot params', { bootParams: 'x=${net0/ip}' }],
  ['a control character in the place', { place: 'a\u0007b' }],
  ['a resolution that is not WxH', { resolution: '1920*1080' }],
  ['a name with a slash', { name: 'a/b' }],
  ['state new (only enabled/disabled may be set)', { state: 'new' }],
  ['an unknown field', { colour: 'blue' }],
  ['a keyboard layout with a space', { keyboardLayout: 'us intl' }],
];

test('the old auto-login field is refused, naming its successor and the settings there are', () => {
  for (const [schema, mac] of [[ThinClientPatch, {}], [ThinClientCreate, { mac: '52:54:00:12:34:56' }]] as const) {
    const r = schema.safeParse({ ...mac, place: 'Hall', autoLoginUser: 'kiosk' });
    assert.equal(r.success, false);
    const message = r.error!.issues.map((i) => i.message).join('; ');
    assert.match(message, /unknown field autoLoginUser \(a thin client opens a kiosk account: kioskUser\)/);
    assert.match(message, /the settings are name, place, pool, state, keyboardLayout, resolution, bootParams, kioskUser/);
  }
  assert.deepEqual(Object.keys(ThinClientPatch.shape), ['name', 'place', 'pool', 'state', 'keyboardLayout', 'resolution', 'bootParams', 'kioskUser'], 'the message lists every setting');
  assert.match(ThinClientPatch.safeParse({ colour: 'blue' }).error!.issues[0]!.message, /^unknown field colour; the settings are/);
  assert.match(ThinClientPatch.safeParse({ resolution: '1*1' }).error!.issues[0]!.message, /one of 800x600/, 'other messages are untouched');
});

for (const patch of GOOD) test(`accepted: ${JSON.stringify(patch)}`, () => assert.ok(ThinClientPatch.safeParse(patch).success));
for (const [why, patch] of BAD) test(`refused: ${why}`, () => assert.equal(ThinClientPatch.safeParse(patch).success, false));
