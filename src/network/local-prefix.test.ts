import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { localPair, localPairCount, localSlot, parseLocalPrefix } from './local-prefix.js';

describe('local prefix', () => {
  it('parses vmd\'s default and counts its /31 pairs', () => {
    const p = parseLocalPrefix('100.64.0.0/10');
    assert.equal(localPairCount(p), 2 ** 21);
    assert.deepEqual(localPair(p, 0), { slot: 0, host: '100.64.0.0', guest: '100.64.0.1' });
    assert.deepEqual(localPair(p, 2 ** 21 - 1), { slot: 2 ** 21 - 1, host: '100.127.255.254', guest: '100.127.255.255' });
  });
  const refused: Array<[string, RegExp]> = [
    ['100.64.0.1/10', /host bits set; write 100.64.0.0\/10/],
    ['100.64.0.0/31', /from \/1 to \/30/],
    ['100.64.0.0', /from \/1 to \/30/],
    ['300.1.1.0/24', /from \/1 to \/30/],
  ];
  for (const [text, message] of refused) it(`refuses ${text}`, () => assert.throws(() => parseLocalPrefix(text), message));
  it('a NIC keeps its slot across starts, skips taken ones, and a full prefix is refused', () => {
    const p = parseLocalPrefix('10.9.0.0/29'); // 4 pairs
    const first = localSlot(p, 'vm1', 0, new Set());
    assert.equal(localSlot(p, 'vm1', 0, new Set()), first);
    const next = localSlot(p, 'vm1', 0, new Set([first]));
    assert.equal(next, (first + 1) % 4);
    const all = new Set<number>();
    for (let i = 0; i < 4; i++) all.add(localSlot(p, `vm${i}`, 0, all));
    assert.equal(all.size, 4);
    assert.throws(() => localSlot(p, 'vm9', 0, all), /no free \/31 left/);
  });
});
