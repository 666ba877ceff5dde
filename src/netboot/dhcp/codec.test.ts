import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BOOTREPLY, decodeDhcp, DhcpDecodeError, encodeDhcp, MAX_DHCP_PACKET_BYTES, MessageType, MIN_REPLY_BYTES, Opt, optionValue, parseUserClass, type DhcpDecodeReason } from './codec.js';
import { EXAMPLE_UUID, ipxeDiscoverOptions, plainOptions, pxeRomDiscoverOptions, rawOption, rawRequest } from './testing.js';

test('an iPXE DISCOVER decodes every PXE and iPXE option', () => {
  const p = decodeDhcp(rawRequest({ options: ipxeDiscoverOptions(0), flags: 0x8000 }));
  assert.equal(p.op, 1);
  assert.equal(p.xid, 0x12345678);
  assert.equal(p.flags, 0x8000);
  assert.equal(p.mac, '52:54:00:12:34:56');
  assert.equal(p.options.messageType, MessageType.DISCOVER);
  assert.equal(p.options.maxMessageSize, 1472);
  assert.deepEqual(p.options.clientArch, [0]);
  assert.deepEqual(p.options.clientNdi, { type: 1, major: 2, minor: 1 });
  assert.equal(p.options.vendorClass, 'PXEClient:Arch:00000:UNDI:002001');
  assert.deepEqual(p.options.userClass, ['iPXE']);
  assert.deepEqual([...p.options.ipxe!.keys()], [0xb1, 0x13, 0x11]);
  assert.deepEqual([...p.options.clientMachineId!], EXAMPLE_UUID);
  assert.equal(p.ciaddr, '0.0.0.0');
});

test('a UEFI PXE ROM DISCOVER: arch 7, no iPXE markers', () => {
  const p = decodeDhcp(rawRequest({ options: pxeRomDiscoverOptions(7) }));
  assert.deepEqual(p.options.clientArch, [7]);
  assert.equal(p.options.userClass, undefined);
  assert.equal(p.options.ipxe, undefined);
});

test('RFC 3004 user class with two classes; a plain string is taken whole', () => {
  assert.deepEqual(parseUserClass(Buffer.from([4, ...Buffer.from('iPXE'), 3, ...Buffer.from('abc')])), ['iPXE', 'abc']);
  assert.deepEqual(parseUserClass(Buffer.from('iPXE')), ['iPXE']);
});

test('option overload (52 = 3): options continue in file, then sname', () => {
  const p = decodeDhcp(rawRequest({
    options: [...rawOption(Opt.OVERLOAD, [3]), ...rawOption(Opt.MESSAGE_TYPE, [MessageType.REQUEST])],
    file: [...rawOption(Opt.REQUESTED_IP, [10, 250, 0, 9]), Opt.END],
    sname: [...rawOption(Opt.HOSTNAME, [...Buffer.from('tc01')]), Opt.END],
  }));
  assert.equal(p.options.requestedIp, '10.250.0.9');
  assert.equal(p.options.hostname, 'tc01');
  assert.equal(p.file, '');
  assert.equal(p.sname, '');
});

test('RFC 3396: a repeated option is concatenated; option 82 is kept raw and ignored', () => {
  const p = decodeDhcp(rawRequest({ options: plainOptions(MessageType.DISCOVER, [...rawOption(12, [0x61, 0x62]), ...rawOption(12, [0x63]), ...rawOption(82, [1, 2, 0x41, 0x42])]) }));
  assert.equal(p.options.hostname, 'abc');
  assert.deepEqual([...p.options.raw.get(82)!], [1, 2, 0x41, 0x42]);
});

test('padding is skipped and a missing END is tolerated', () => {
  const p = decodeDhcp(rawRequest({ options: [0, 0, ...plainOptions(MessageType.INFORM)] }).subarray(0, -1));
  assert.equal(p.options.messageType, MessageType.INFORM);
});

const valid = rawRequest({ options: ipxeDiscoverOptions(0) });
const withOption = (bytes: number[]) => rawRequest({ options: [...rawOption(Opt.MESSAGE_TYPE, [1]), ...bytes] });
const BAD: Array<[string, Buffer, DhcpDecodeReason]> = [
  ['empty', Buffer.alloc(0), 'truncated'],
  ['header only, no cookie', valid.subarray(0, 236), 'truncated'],
  ['oversized', Buffer.concat([valid, Buffer.alloc(MAX_DHCP_PACKET_BYTES)]), 'oversized'],
  ['op 7', Buffer.concat([Buffer.from([7]), valid.subarray(1)]), 'bad-op'],
  ['hlen 0', Buffer.concat([valid.subarray(0, 2), Buffer.from([0]), valid.subarray(3)]), 'bad-hlen'],
  ['hlen 17', Buffer.concat([valid.subarray(0, 2), Buffer.from([17]), valid.subarray(3)]), 'bad-hlen'],
  ['wrong cookie', Buffer.concat([valid.subarray(0, 236), Buffer.from([1, 2, 3, 4]), valid.subarray(240)]), 'bad-cookie'],
  ['option length past the end', Buffer.concat([valid.subarray(0, 240), Buffer.from([53, 1, 1, 60, 40, 0x50])]), 'truncated-option'],
  ['option without length byte', Buffer.concat([valid.subarray(0, 240), Buffer.from([53])]), 'truncated-option'],
  ['message type of 2 bytes', rawRequest({ options: rawOption(Opt.MESSAGE_TYPE, [1, 1]) }), 'bad-option'],
  ['requested IP of 3 bytes', withOption(rawOption(Opt.REQUESTED_IP, [10, 0, 0])), 'bad-option'],
  ['arch of odd length', withOption(rawOption(Opt.CLIENT_ARCH, [0, 0, 7])), 'bad-option'],
  ['empty arch', withOption(rawOption(Opt.CLIENT_ARCH, [])), 'bad-option'],
  ['NDI of 2 bytes', withOption(rawOption(Opt.CLIENT_NDI, [1, 2])), 'bad-option'],
  ['machine id of wrong type', withOption(rawOption(Opt.CLIENT_MACHINE_ID, [1, ...EXAMPLE_UUID])), 'bad-option'],
  ['max size of 1 byte', withOption(rawOption(Opt.MAX_SIZE, [5])), 'bad-option'],
];
for (const [name, bytes, reason] of BAD) {
  test(`decode refuses ${name} with reason ${reason}`, () => {
    assert.throws(() => decodeDhcp(bytes), (err: unknown) => err instanceof DhcpDecodeError && err.reason === reason);
  });
}

test('every truncation and random corruption of real packets yields a packet or a DhcpDecodeError', () => {
  let seed = 42;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / 2 ** 24;
  const samples = [valid, rawRequest({ options: pxeRomDiscoverOptions(9) }), rawRequest({ options: plainOptions(3) })];
  let decoded = 0;
  for (const sample of samples) {
    for (let cut = 0; cut <= sample.length; cut++) {
      try { decodeDhcp(sample.subarray(0, cut)); decoded++; } catch (err) { assert.ok(err instanceof DhcpDecodeError, String(err)); }
    }
    for (let i = 0; i < 3000; i++) {
      const copy = Buffer.from(sample);
      for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) copy[236 + Math.floor(rand() * (copy.length - 236))] = Math.floor(rand() * 256);
      try { decodeDhcp(copy); decoded++; } catch (err) { assert.ok(err instanceof DhcpDecodeError, String(err)); }
    }
  }
  assert.ok(decoded > 0, 'some corrupted packets still decode');
});

test('encode → decode round trip of a reply; long options split; padded to the BOOTP minimum', () => {
  const long = Buffer.alloc(600, 0x41);
  const bytes = encodeDhcp({
    op: BOOTREPLY, xid: 0xdeadbeef, chaddr: Buffer.from([0x52, 0x54, 0, 0x12, 0x34, 0x56]), flags: 0x8000,
    yiaddr: '10.250.0.50', siaddr: '10.250.0.1', file: 'undionly.kpxe',
    options: [[Opt.MESSAGE_TYPE, optionValue.u8(MessageType.OFFER)], [Opt.SERVER_ID, optionValue.ip('10.250.0.1')], [Opt.LEASE_TIME, optionValue.u32(3600)], [Opt.VENDOR, long]],
  });
  const p = decodeDhcp(bytes);
  assert.equal(p.op, BOOTREPLY);
  assert.equal(p.xid, 0xdeadbeef);
  assert.equal(p.yiaddr, '10.250.0.50');
  assert.equal(p.siaddr, '10.250.0.1');
  assert.equal(p.file, 'undionly.kpxe');
  assert.equal(p.options.serverId, '10.250.0.1');
  assert.equal(p.options.leaseSeconds, 3600);
  assert.deepEqual(p.options.raw.get(Opt.VENDOR), long);
  const small = encodeDhcp({ op: BOOTREPLY, xid: 1, chaddr: Buffer.alloc(6), options: [] });
  assert.equal(small.length, MIN_REPLY_BYTES);
});

test('encode refuses a boot file name that does not fit the 128-byte field', () => {
  assert.throws(() => encodeDhcp({ op: BOOTREPLY, xid: 1, chaddr: Buffer.alloc(6), file: 'x'.repeat(128), options: [] }), RangeError);
});
