import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serviceAddressParse } from './service-address.js';

test('--service-address: an IPv4 address with its prefix, and the interface that carries it', () => {
  assert.deepEqual(serviceAddressParse('10.0.0.10/24', 'eth0'), { address: '10.0.0.10', prefix: 24, iface: 'eth0' });
  assert.deepEqual(serviceAddressParse('192.168.5.1/32', 'br0.12'), { address: '192.168.5.1', prefix: 32, iface: 'br0.12' });
  const refused: Array<[string, string | undefined, RegExp]> = [
    ['10.0.0.10', 'eth0', /give it as ADDRESS\/PREFIX/],
    ['10.0.0.10/33', 'eth0', /prefix length must be 1 to 32/],
    ['10.0.0.10/0', 'eth0', /prefix length must be 1 to 32/],
    ['10.0.0.300/24', 'eth0', /an IPv4 address is needed/],
    ['fd00::10/64', 'eth0', /IPv6 one would need unsolicited neighbour advertisements/],
    ['10.0.0.10/24', undefined, /needs --service-interface/],
    ['10.0.0.10/24', 'eth0; reboot', /needs --service-interface/],
    ['10.0.0.10/24', 'a-name-longer-than-15', /needs --service-interface/],
  ];
  for (const [cidr, iface, why] of refused) assert.throws(() => serviceAddressParse(cidr, iface), (err: Error & { code?: string }) => err.code === 'BAD_REQUEST' && why.test(err.message), `${cidr} ${iface}`);
});
