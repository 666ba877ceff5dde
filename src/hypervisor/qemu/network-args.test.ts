import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultMac, defaultTapName, MAX_IFNAME_LENGTH } from './network-args.js';

describe('defaultMac', () => {
  it('is stable, locally administered, unicast and 52:54-prefixed', () => {
    const mac = defaultMac('desktop-001', 0);
    assert.equal(mac, defaultMac('desktop-001', 0));
    assert.match(mac, /^52:54(:[0-9a-f]{2}){4}$/);
    const first = Number.parseInt(mac.slice(0, 2), 16);
    assert.equal(first & 0b10, 0b10, 'locally administered bit');
    assert.equal(first & 0b01, 0, 'unicast');
  });
  it('pins the derivation (sha256 of "name\\0index"), so MACs survive upgrades', () => {
    assert.equal(defaultMac('vm1', 0), '52:54:d3:64:6c:72');
  });
  it('differs per VM and per index over many names', () => {
    const macs = new Set<string>();
    for (let i = 0; i < 2000; i++) macs.add(defaultMac(`desktop-${i}`, i % 8));
    assert.equal(macs.size, 2000);
    assert.notEqual(defaultMac('vm1', 0), defaultMac('vm1', 1));
  });
});

describe('defaultTapName', () => {
  it('fits IFNAMSIZ for the longest VM name and every NIC index', () => {
    for (let index = 0; index < 8; index++) {
      const name = defaultTapName('x'.repeat(63), index);
      assert.match(name, /^ard-[0-9a-f]{8}-[0-7]$/);
      assert.ok(name.length <= MAX_IFNAME_LENGTH);
    }
  });
  it('is stable and distinct per VM', () => {
    assert.equal(defaultTapName('vm1', 0), 'ard-d3646c72-0');
    assert.notEqual(defaultTapName('vm1', 0), defaultTapName('vm2', 0));
  });
});
