import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { macLockRuleset, macLockTable, macUnlockRuleset } from './mac-lock.js';

describe('macLockRuleset', () => {
  it('a bridge port: bridge-family prerouting, Ethernet source and ARP sender both checked, one table per tap', () => {
    assert.equal(
      macLockRuleset('ard-d3646c72-0', '52:54:d3:64:6c:72', 'bridge-port'),
      [
        'add table bridge ardesia_lock_ard_d3646c72_0',
        'delete table bridge ardesia_lock_ard_d3646c72_0',
        'table bridge ardesia_lock_ard_d3646c72_0 {',
        '  chain guard {',
        '    type filter hook prerouting priority -200; policy accept;',
        '    iifname "ard-d3646c72-0" ether saddr != 52:54:d3:64:6c:72 counter drop',
        '    iifname "ard-d3646c72-0" ether type arp arp saddr ether != 52:54:d3:64:6c:72 counter drop',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });
  it('a routed tap (local interface): netdev ingress bound to the device', () => {
    const text = macLockRuleset('tap3', '02:00:00:00:00:01', 'device');
    assert.match(text, /^table netdev ardesia_lock_tap3 \{$/m);
    assert.match(text, /type filter hook ingress device "tap3" priority 0; policy accept;/);
    assert.match(text, /^    ether saddr != 02:00:00:00:00:01 counter drop$/m);
  });
  it('removal works whether or not the table exists', () => {
    assert.equal(macUnlockRuleset('tap3', 'device'), 'add table netdev ardesia_lock_tap3\ndelete table netdev ardesia_lock_tap3\n');
  });
  const refused: Array<[string, string, RegExp]> = [
    ['tap"; flush ruleset', '52:54:00:00:00:01', /not an interface name/],
    ['a-very-long-tap-name', '52:54:00:00:00:01', /not an interface name/],
    ['tap0', '52:54:00:00:00:0G', /not a lower-case MAC/],
    ['tap0', '52:54:00:00:00:AB', /not a lower-case MAC/],
  ];
  for (const [tap, mac, message] of refused) {
    it(`refuses ${JSON.stringify(tap)} / ${mac}`, () => assert.throws(() => macLockRuleset(tap, mac, 'bridge-port'), message));
  }
  it('table names are distinct for distinct taps', () => assert.notEqual(macLockTable('ard-1-0'), macLockTable('ard-1-1')));
});
