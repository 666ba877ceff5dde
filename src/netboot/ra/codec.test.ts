import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeRouterAdvertisement, NO_IPV6_ADVERTISEMENT, parseResponderLine, type ResponderLine, type RouterAdvertisement } from './codec.js';
import { raLinkFor } from './responder.js';

describe('encodeRouterAdvertisement', () => {
  const table: Array<[string, RouterAdvertisement, string]> = [
    ['Ardesia\'s: lifetime 0, M=0 O=0, source link-layer option', { ...NO_IPV6_ADVERTISEMENT, sourceMac: '52:54:00:aB:cd:0e' },
      '86000000' + '00' + '00' + '0000' + '00000000' + '00000000' + '0101525400abcd0e'],
    ['no MAC: the 16-byte header only', NO_IPV6_ADVERTISEMENT, '86000000000000000000000000000000'],
    ['M and O set', { managed: true, other: true, routerLifetimeSeconds: 0 }, '86000000' + '00' + 'c0' + '0000' + '0'.repeat(16)],
    ['O only, lifetime 1800 s', { managed: false, other: true, routerLifetimeSeconds: 1800 }, '86000000' + '00' + '40' + '0708' + '0'.repeat(16)],
  ];
  for (const [name, ra, hex] of table) it(name, () => assert.equal(encodeRouterAdvertisement(ra).toString('hex'), hex));
  it('the checksum stays 0 for the kernel to fill in; code 0', () => {
    const bytes = encodeRouterAdvertisement({ ...NO_IPV6_ADVERTISEMENT, sourceMac: '02:00:00:00:00:01' });
    assert.deepEqual([bytes[1], bytes[2], bytes[3]], [0, 0, 0]);
    assert.equal(bytes.length % 8, 0);
  });
  for (const bad of [-1, 9001, 1.5]) {
    it(`refuses lifetime ${bad}`, () => assert.throws(() => encodeRouterAdvertisement({ ...NO_IPV6_ADVERTISEMENT, routerLifetimeSeconds: bad }), /0–9000/));
  }
  it('refuses a malformed MAC', () => assert.throws(() => encodeRouterAdvertisement({ ...NO_IPV6_ADVERTISEMENT, sourceMac: '52:54:00:ab:cd' }), /not a MAC/));
});

describe('parseResponderLine', () => {
  const table: Array<[string, ResponderLine]> = [
    ['ready 3 65534', { kind: 'ready', ifindex: 3, uid: 65534 }],
    ['answered fe80::5054:ff:fe03:1 unicast', { kind: 'answered', solicitor: 'fe80::5054:ff:fe03:1', delivery: 'unicast' }],
    ['answered :: multicast', { kind: 'answered', solicitor: '::', delivery: 'multicast' }],
    ['dropped :: rate-limited', { kind: 'dropped', solicitor: '::', why: 'rate-limited' }],
    ['dropped fe80::1 send: Network is unreachable', { kind: 'dropped', solicitor: 'fe80::1', why: 'send: Network is unreachable' }],
    ['other-router fe80::1', { kind: 'other-router', router: 'fe80::1' }],
    ['failed socket(AF_INET6, SOCK_RAW, ICMPV6) (needs root or CAP_NET_RAW): Operation not permitted', { kind: 'failed', why: 'socket(AF_INET6, SOCK_RAW, ICMPV6) (needs root or CAP_NET_RAW): Operation not permitted' }],
    ['ready 3', { kind: 'unknown', line: 'ready 3' }],
    ['answered fe80::1 broadcast', { kind: 'unknown', line: 'answered fe80::1 broadcast' }],
    ['failed', { kind: 'unknown', line: 'failed' }],
    ['', { kind: 'unknown', line: '' }],
  ];
  for (const [line, want] of table) it(JSON.stringify(line), () => assert.deepEqual(parseResponderLine(line), want));
});

describe('raLinkFor', () => {
  const v4 = (address: string, mac = '52:54:00:00:00:01', internal = false) => ({ family: 'IPv4' as const, address, mac, internal, netmask: '255.255.255.0', cidr: null });
  const v6 = (address: string) => ({ family: 'IPv6' as const, address, mac: '52:54:00:00:00:01', internal: false, netmask: 'ffff:ffff:ffff:ffff::', cidr: null, scopeid: 2 });
  const table: Array<[string, Parameters<typeof raLinkFor>[1], ReturnType<typeof raLinkFor>]> = [
    ['the link with the address and a link-local', { eth0: [v4('10.0.0.1'), v6('fe80::5054:ff:fe00:1')], eth1: [v4('10.1.0.1')] },
      { address: '10.0.0.1', name: 'eth0', mac: '52:54:00:00:00:01' }],
    ['IPv6 off on that link', { eth0: [v4('10.0.0.1')] }, { address: '10.0.0.1', why: 'eth0 has no IPv6 link-local address (IPv6 is off there), so thin clients cannot be told not to wait for IPv6' }],
    ['only a global IPv6 address', { eth0: [v4('10.0.0.1'), v6('2001:db8::1')] }, { address: '10.0.0.1', why: 'eth0 has no IPv6 link-local address (IPv6 is off there), so thin clients cannot be told not to wait for IPv6' }],
    ['no such address', { eth0: [v4('10.0.0.2'), v6('fe80::1')] }, { address: '10.0.0.1', why: 'no interface holds 10.0.0.1' }],
    ['loopback', { lo: [v4('10.0.0.1', '00:00:00:00:00:00', true), v6('fe80::1')] }, { address: '10.0.0.1', why: 'lo is a loopback interface' }],
  ];
  for (const [name, interfaces, want] of table) it(name, () => assert.deepEqual(raLinkFor('10.0.0.1', interfaces), want));
});
