import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dhcpRoute, encodeTransmit, PortFrameDecoder, transmitIfindex, type PortFrame } from './port-frames.js';

function received(ifindex: number, src: number[], srcPort: number, dst: number[], datagram: number[]): Buffer {
  const body = Buffer.from([0, 0, 0, ifindex, ...src, srcPort >> 8, srcPort & 255, ...dst, ...datagram]);
  return Buffer.concat([Buffer.from([0x52, body.length >> 8, body.length & 255]), body]);
}

describe('PortFrameDecoder', () => {
  const stream = Buffer.concat([
    received(7, [0, 0, 0, 0], 68, [255, 255, 255, 255], [1, 2, 3]),
    Buffer.from([0x53, 0, 7, ...Buffer.from('ready 0')]),
    received(9, [10, 0, 0, 5], 68, [10, 0, 0, 1], []),
    Buffer.from([0x51, 0, 1, 0xff]),
  ]);
  const expected: PortFrame[] = [
    { kind: 'received', ifindex: 7, source: { address: '0.0.0.0', port: 68 }, destination: '255.255.255.255', datagram: Buffer.from([1, 2, 3]) },
    { kind: 'status', text: 'ready 0' },
    { kind: 'received', ifindex: 9, source: { address: '10.0.0.5', port: 68 }, destination: '10.0.0.1', datagram: Buffer.alloc(0) },
    { kind: 'unknown', type: 0x51 },
  ];
  it('decodes a whole stream at once', () => assert.deepEqual(new PortFrameDecoder().push(stream), expected));
  it('decodes the same stream fed one byte at a time', () => {
    const decoder = new PortFrameDecoder();
    const frames: PortFrame[] = [];
    for (const byte of stream) frames.push(...decoder.push(Buffer.from([byte])));
    assert.deepEqual(frames, expected);
  });
  it('a received frame shorter than its header is unknown, not a crash', () => {
    assert.deepEqual(new PortFrameDecoder().push(Buffer.from([0x52, 0, 2, 1, 2])), [{ kind: 'unknown', type: 0x52 }]);
  });
});

describe('encodeTransmit', () => {
  it('type T, body length, ifindex, source, destination, port, datagram', () => {
    const bytes = encodeTransmit({ ifindex: 258, source: '100.64.0.2', to: { address: '255.255.255.255', port: 68 }, datagram: Buffer.from([0xaa, 0xbb]) });
    assert.equal(bytes.toString('hex'), '54' + '0010' + '00000102' + '64400002' + 'ffffffff' + '0044' + 'aabb');
  });
  it('refuses a datagram that does not fit a frame', () => {
    assert.throws(() => encodeTransmit({ ifindex: 1, source: '10.0.0.1', to: { address: '10.0.0.2', port: 68 }, datagram: Buffer.alloc(65530) }), RangeError);
  });
  it('broadcasts leave by the responder\'s link, unicasts by the routing table', () => {
    assert.equal(transmitIfindex('255.255.255.255', 4), 4);
    assert.equal(transmitIfindex('10.0.0.7', 4), 0);
  });
});

describe('dhcpRoute', () => {
  const netboot = { name: 'netboot', ifindex: 2, address: '10.0.0.1' };
  const local = { name: 'local', ifindex: 5, address: '100.64.0.2' };
  const responders = [netboot, local];
  const table: Array<[string, number, string, string | undefined]> = [
    ['a broadcast on the thin-client link → netboot', 2, '255.255.255.255', 'netboot'],
    ['a broadcast on the VM tap → local', 5, '255.255.255.255', 'local'],
    ['a broadcast on a link with no responder → no one', 9, '255.255.255.255', undefined],
    ['a renewal to the netboot address on its link → netboot', 2, '10.0.0.1', 'netboot'],
    ['a renewal to the local host address on the tap → local', 5, '100.64.0.2', 'local'],
    ['a VM on its tap unicasting to the netboot address → no one', 5, '10.0.0.1', undefined],
    ['a thin client unicasting to the local address → no one', 2, '100.64.0.2', undefined],
    ['a relayed request to the netboot address via another link → netboot', 9, '10.0.0.1', 'netboot'],
    ['a unicast to an address no responder has → no one', 9, '10.9.9.9', undefined],
  ];
  for (const [name, ifindex, destination, want] of table) {
    it(name, () => assert.equal(dhcpRoute(responders, ifindex, destination)?.name, want));
  }
});
