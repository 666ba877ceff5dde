import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Pool, type PoolNetwork, poolNetworkFromText, poolNetworkText } from './pools.js';
import { poolNics } from './network.js';

describe('poolNics', () => {
  const cases: Array<[string, PoolNetwork, unknown]> = [
    ['none: no NIC', { mode: 'none' }, []],
    ['nat: unrestricted user NAT', { mode: 'nat' }, [{ mode: 'user', model: 'virtio' }]],
    ['nat with allow: restrict=on and the list', { mode: 'nat', allow: [{ host: '10.1.2.3', port: 445 }] }, [{ mode: 'user', model: 'virtio', restrict: true, allow: [{ host: '10.1.2.3', port: 445 }] }]],
    ['nat with an empty allow: restricted to nothing', { mode: 'nat', allow: [] }, [{ mode: 'user', model: 'virtio', restrict: true, allow: [] }]],
    ['nat with host access: the NIC opened to the host', { mode: 'nat', hostAccess: true }, [{ mode: 'user', model: 'virtio', hostAccess: true }]],
    ['nat with allow and host access: kept for the argv check to refuse', { mode: 'nat', allow: [], hostAccess: true }, [{ mode: 'user', model: 'virtio', restrict: true, allow: [], hostAccess: true }]],
    ['bridge: a locked tap on the bridge', { mode: 'bridge', bridge: 'br0' }, [{ mode: 'bridge', model: 'virtio', bridge: 'br0', locked: true }]],
  ];
  for (const [name, network, nics] of cases) it(name, () => assert.deepEqual(poolNics(network), nics));
});

describe('pool network setting', () => {
  it('defaults to none, so pools made before it keep no NIC', () => {
    assert.deepEqual(Pool.parse({ name: 'p', image: 'i' }).network, { mode: 'none' });
  });
  const texts: Array<[string, PoolNetwork | undefined]> = [
    ['none', { mode: 'none' }],
    ['nat', { mode: 'nat' }],
    ['bridge:br0', { mode: 'bridge', bridge: 'br0' }],
    ['bridge:', undefined],
    ['bridge:bad name', undefined],
    ['bridge', undefined],
    ['tap', undefined],
  ];
  for (const [text, network] of texts) it(`--network ${text}`, () => assert.deepEqual(poolNetworkFromText(text), network));
  it('reads back as text', () => {
    assert.equal(poolNetworkText({ mode: 'bridge', bridge: 'br0' }), 'bridge:br0');
    assert.equal(poolNetworkText({ mode: 'nat', allow: [{ host: '10.0.0.1', port: 80 }] }), 'nat (restricted: 1 destination)');
    assert.equal(poolNetworkText({ mode: 'nat', hostAccess: true }), 'nat (host access)');
  });
  it('refuses unknown modes and fields', () => {
    assert.equal(Pool.safeParse({ name: 'p', image: 'i', network: { mode: 'vlan' } }).success, false);
    assert.equal(Pool.safeParse({ name: 'p', image: 'i', network: { mode: 'nat', bridge: 'br0' } }).success, false);
  });
});
