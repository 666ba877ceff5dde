import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeDhcp, encodeDhcp, MessageType, Opt, type DhcpPacket } from './codec.js';
import { parseDhcpConfig, type DhcpConfigInput } from './config.js';
import { MemoryLeaseStore, type Lease, type Offer } from './leases.js';
import { dhcpDecide, OFFER_HOLD_MS, type DhcpDecision, type DhcpRequest } from './policy.js';
import { EXAMPLE_UUID, ipBytes, ipxeDiscoverOptions, plainOptions, pxeRomDiscoverOptions, rawOption, rawRequest, type RawRequestSpec } from './testing.js';

const NOW = 1_000_000;
const SERVER = '10.250.0.1';
const base: DhcpConfigInput = { mode: 'full', serverAddress: SERVER };
const FULL = parseDhcpConfig({
  ...base,
  full: { subnetMask: '255.255.255.0', ranges: [{ start: '10.250.0.100', end: '10.250.0.103' }], router: '10.250.0.1', dns: ['10.250.0.1'], leaseSeconds: 600,
    reservations: [{ mac: '52:54:00:aa:aa:aa', ip: '10.250.0.20', hostname: 'tc-reserved' }] },
});
const FULL_HTTP = parseDhcpConfig({ ...FULL, ipxeHttp: { address: '10.250.0.1', port: 8080 } });
const PROXY = parseDhcpConfig({ mode: 'proxy', serverAddress: SERVER });
const PROXY_HTTP = parseDhcpConfig({ mode: 'proxy', serverAddress: SERVER, ipxeHttp: { address: '10.250.0.1', port: 8080 } });

function packet(spec: RawRequestSpec): DhcpPacket {
  return decodeDhcp(rawRequest(spec));
}
function decide(spec: RawRequestSpec, config = FULL, leases: Lease[] = [], port: 67 | 4011 = 67, source = { address: '0.0.0.0', port: 68 }, offers: Offer[] = []): DhcpDecision {
  const req: DhcpRequest = { packet: packet(spec), port, source };
  const store = new MemoryLeaseStore(leases);
  for (const offer of offers) store.apply({ kind: 'offer', offer });
  return dhcpDecide(req, config, store, NOW);
}
const offerOf = (ip: string, mac = '52:54:00:12:34:56'): Offer => ({ mac, ip, untilMs: NOW + 1000 });
/** The default client's own lease record elsewhere (expired): the server knows it. */
const known = (ip = '10.250.0.103'): Lease => ({ mac: '52:54:00:12:34:56', ip, expiresAtMs: NOW - 1 });
/** The reply as a client would decode it from the wire. */
function wire(d: DhcpDecision): DhcpPacket {
  assert.ok(d.reply, `expected a reply, got silence: ${d.reason}`);
  return decodeDhcp(encodeDhcp(d.reply.message));
}
const serverIdOpt = rawOption(Opt.SERVER_ID, ipBytes(SERVER));
const requestOf = (ip: string, extra: number[] = []) => plainOptions(MessageType.REQUEST, [...rawOption(Opt.REQUESTED_IP, ipBytes(ip)), ...extra]);
const other = (ip: string, mac = '52:54:00:00:00:99', expiresAtMs = NOW + 60_000): Lease => ({ mac, ip, expiresAtMs });

test('full: a plain DISCOVER gets an address in the range, lease times, no boot file, by broadcast', () => {
  const d = decide({ options: plainOptions(MessageType.DISCOVER) });
  const r = wire(d);
  assert.equal(r.options.messageType, MessageType.OFFER);
  assert.match(r.yiaddr, /^10\.250\.0\.10[0-3]$/);
  assert.equal(r.options.serverId, SERVER);
  assert.equal(r.options.leaseSeconds, 600);
  assert.equal(r.options.raw.get(Opt.RENEWAL_T1)!.readUInt32BE(0), 300);
  assert.equal(r.options.raw.get(Opt.REBINDING_T2)!.readUInt32BE(0), 525);
  assert.equal(r.file, '');
  assert.equal(r.options.raw.get(Opt.BOOTFILE), undefined);
  assert.deepEqual(d.reply!.to, { address: '255.255.255.255', port: 68 });
  assert.deepEqual(d.change, { kind: 'offer', offer: { mac: '52:54:00:12:34:56', ip: r.yiaddr, untilMs: NOW + OFFER_HOLD_MS } }, 'an offer is remembered, no lease bound');
});

test('full: a reservation wins, with its host name', () => {
  const r = wire(decide({ mac: '52:54:00:aa:aa:aa', options: plainOptions(MessageType.DISCOVER) }));
  assert.equal(r.yiaddr, '10.250.0.20');
  assert.equal(r.options.hostname, 'tc-reserved');
});

test('full: the requested address if free; else another; an existing lease is kept', () => {
  assert.equal(wire(decide({ options: plainOptions(MessageType.DISCOVER, rawOption(50, [10, 250, 0, 102])) })).yiaddr, '10.250.0.102');
  assert.notEqual(wire(decide({ options: plainOptions(MessageType.DISCOVER, rawOption(50, [10, 250, 0, 102])) }, FULL, [other('10.250.0.102')])).yiaddr, '10.250.0.102');
  assert.equal(wire(decide({ options: plainOptions(MessageType.DISCOVER) }, FULL, [{ mac: '52:54:00:12:34:56', ip: '10.250.0.101', expiresAtMs: NOW - 1 }])).yiaddr, '10.250.0.101');
});

test('full: a full pool is silent; an expired lease of another client is free again', () => {
  const taken = ['10.250.0.100', '10.250.0.101', '10.250.0.102', '10.250.0.103'].map((ip, i) => other(ip, `52:54:00:00:00:0${i}`));
  assert.equal(decide({ options: plainOptions(MessageType.DISCOVER) }, FULL, taken).reply, undefined);
  taken[2]!.expiresAtMs = NOW - 1;
  assert.equal(wire(decide({ options: plainOptions(MessageType.DISCOVER) }, FULL, taken)).yiaddr, '10.250.0.102');
});

const BOOT_CASES: Array<[string, number[], typeof FULL, string]> = [
  ['BIOS PXE ROM (arch 0)', pxeRomDiscoverOptions(0), FULL, 'undionly.kpxe'],
  ['UEFI PXE ROM (arch 7)', pxeRomDiscoverOptions(7), FULL, 'snponly.efi'],
  ['UEFI PXE ROM (arch 9)', pxeRomDiscoverOptions(9), FULL, 'snponly.efi'],
  ['iPXE without HTTP configured', ipxeDiscoverOptions(0), FULL, 'boot.ipxe'],
  ['iPXE (user class) with HTTP', ipxeDiscoverOptions(0), FULL_HTTP, 'http://10.250.0.1:8080/boot/ipxe?mac=52:54:00:12:34:56'],
  ['iPXE (option 175 only) with HTTP', [...plainOptions(MessageType.DISCOVER), ...rawOption(175, [0x13, 1, 1])], FULL_HTTP, 'http://10.250.0.1:8080/boot/ipxe?mac=52:54:00:12:34:56'],
  ['PXE ROM without option 93 (arch from option 60)', plainOptions(MessageType.DISCOVER, rawOption(60, [...Buffer.from('PXEClient:Arch:00007:UNDI:003016')])), FULL, 'snponly.efi'],
];
for (const [name, options, config, file] of BOOT_CASES) {
  test(`full: boot file for ${name} is ${file}`, () => {
    const r = wire(decide({ options }, config));
    assert.equal(r.file, file);
    assert.equal(r.options.raw.get(Opt.BOOTFILE)?.toString(), file);
    assert.equal(r.siaddr, SERVER);
    assert.match(r.yiaddr, /^10\.250\.0\./);
  });
}

test('full: an unsupported architecture (6, IA32 UEFI) gets an address but no boot file', () => {
  const r = wire(decide({ options: pxeRomDiscoverOptions(6) }));
  assert.equal(r.file, '');
  assert.match(r.yiaddr, /^10\.250\.0\./);
});

test('full: REQUEST selecting us for the address offered → ACK and a bound lease (a first lease: newClient)', () => {
  const d = decide({ options: requestOf('10.250.0.101', serverIdOpt) }, FULL, [], 67, undefined, [offerOf('10.250.0.101')]);
  assert.equal(wire(d).options.messageType, MessageType.ACK);
  assert.equal(wire(d).yiaddr, '10.250.0.101');
  assert.deepEqual(d.change, { kind: 'bind', lease: { mac: '52:54:00:12:34:56', ip: '10.250.0.101', expiresAtMs: NOW + 600_000 } });
  assert.equal(d.newClient, true);
  assert.equal(decide({ options: requestOf('10.250.0.101', serverIdOpt) }, FULL, [known()], 67, undefined, [offerOf('10.250.0.101')]).newClient, undefined);
});

test('full: REQUEST selecting us for an address not offered to this MAC → NAK, nothing bound', () => {
  for (const offers of [[], [offerOf('10.250.0.102')], [offerOf('10.250.0.101', '52:54:00:00:00:77')], [{ ...offerOf('10.250.0.101'), untilMs: NOW }]]) {
    const d = decide({ options: requestOf('10.250.0.101', serverIdOpt) }, FULL, [], 67, undefined, offers);
    assert.equal(wire(d).options.messageType, MessageType.NAK, JSON.stringify(offers));
    assert.equal(d.change, undefined);
  }
});

test('full: INIT-REBOOT from a client with no record → silent (RFC 2131 §4.3.2), nothing bound', () => {
  const d = decide({ options: requestOf('10.250.0.101') });
  assert.equal(d.reply, undefined);
  assert.equal(d.change, undefined);
  assert.equal(wire(decide({ options: requestOf('10.250.0.101') }, FULL, [known()])).options.messageType, MessageType.ACK, 'a known client is answered');
});

test('full: REQUEST selecting another server → silent', () => {
  const d = decide({ options: requestOf('10.250.0.101', rawOption(Opt.SERVER_ID, [10, 250, 0, 2])) });
  assert.equal(d.reply, undefined);
  assert.equal(d.change, undefined);
});

const NAK_CASES: Array<[string, RawRequestSpec, Lease[]]> = [
  ['an address leased to another client', { options: requestOf('10.250.0.101') }, [other('10.250.0.101'), known()]],
  ['an address of another subnet (INIT-REBOOT after moving)', { options: requestOf('192.168.1.5') }, []],
  ['an address outside the ranges', { options: requestOf('10.250.0.50') }, [known()]],
  ['a reserved client asking for another address', { mac: '52:54:00:aa:aa:aa', options: requestOf('10.250.0.100') }, []],
  ['another client\'s reserved address', { options: requestOf('10.250.0.20') }, [known()]],
  ['the server\'s own address', { options: requestOf('10.250.0.1') }, [known()]],
];
for (const [name, spec, leases] of NAK_CASES) {
  test(`full: REQUEST for ${name} → NAK by broadcast`, () => {
    const d = decide(spec, FULL, leases);
    assert.equal(wire(d).options.messageType, MessageType.NAK);
    assert.equal(wire(d).yiaddr, '0.0.0.0');
    assert.deepEqual(d.reply!.to, { address: '255.255.255.255', port: 68 });
    assert.equal(d.change, undefined);
  });
}

test('full: RENEWING (ciaddr, no option 50) → ACK unicast to ciaddr', () => {
  const d = decide({ ciaddr: [10, 250, 0, 101], options: plainOptions(MessageType.REQUEST) }, FULL, [{ mac: '52:54:00:12:34:56', ip: '10.250.0.101', expiresAtMs: NOW + 1 }]);
  assert.equal(wire(d).options.messageType, MessageType.ACK);
  assert.deepEqual(d.reply!.to, { address: '10.250.0.101', port: 68 });
});

test('full: through a relay (giaddr) the reply goes to the relay on port 67', () => {
  const d = decide({ giaddr: [10, 250, 0, 254], options: plainOptions(MessageType.DISCOVER) });
  assert.deepEqual(d.reply!.to, { address: '10.250.0.254', port: 67 });
  assert.equal(wire(d).giaddr, '10.250.0.254');
});

test('full: RELEASE of its own lease frees it; of another address is ignored', () => {
  const mine: Lease = { mac: '52:54:00:12:34:56', ip: '10.250.0.101', expiresAtMs: NOW + 1000 };
  const released = decide({ ciaddr: [10, 250, 0, 101], options: plainOptions(MessageType.RELEASE, serverIdOpt) }, FULL, [mine]);
  assert.deepEqual(released.change, { kind: 'release', mac: '52:54:00:12:34:56', ip: '10.250.0.101' });
  assert.equal(released.reply, undefined);
  assert.equal(decide({ ciaddr: [10, 250, 0, 102], options: plainOptions(MessageType.RELEASE, serverIdOpt) }, FULL, [mine]).change, undefined);
});

test('full: DECLINE of the address offered holds it back from the next offers', () => {
  const declineOf = (ip: string) => plainOptions(MessageType.DECLINE, [...rawOption(50, ipBytes(ip)), ...serverIdOpt]);
  const d = decide({ options: declineOf('10.250.0.102') }, FULL, [], 67, undefined, [offerOf('10.250.0.102')]);
  assert.equal(d.change?.kind, 'decline');
  const store = new MemoryLeaseStore();
  store.apply(d.change!);
  for (let i = 0; i < 16; i++) {
    const mac = `52:54:00:00:01:${i.toString(16).padStart(2, '0')}`;
    const offer = dhcpDecide({ packet: packet({ mac, options: plainOptions(MessageType.DISCOVER, rawOption(50, [10, 250, 0, 102])) }), port: 67, source: { address: '0.0.0.0', port: 68 } }, FULL, store, NOW);
    assert.notEqual(wire(offer).yiaddr, '10.250.0.102');
  }
});

test('full: DECLINE from a client that was neither offered nor holds the address is ignored', () => {
  const declineOf = (ip: string) => plainOptions(MessageType.DECLINE, [...rawOption(50, ipBytes(ip)), ...serverIdOpt]);
  const cases: Array<[string, Lease[], Offer[]]> = [
    ['no offer, no lease', [], []],
    ['offered another address', [], [offerOf('10.250.0.101')]],
    ['offered to another MAC', [], [offerOf('10.250.0.102', '52:54:00:00:00:77')]],
    ['leased to another MAC', [other('10.250.0.102')], []],
    ['its own lease expired', [{ mac: '52:54:00:12:34:56', ip: '10.250.0.102', expiresAtMs: NOW - 1 }], []],
  ];
  for (const [name, leases, offers] of cases) assert.equal(decide({ options: declineOf('10.250.0.102') }, FULL, leases, 67, undefined, offers).change, undefined, name);
  assert.equal(decide({ options: declineOf('10.250.0.102') }, FULL, [{ mac: '52:54:00:12:34:56', ip: '10.250.0.102', expiresAtMs: NOW + 1 }]).change?.kind, 'decline', 'the holder may decline');
});

test('full: declined addresses never pass an eighth of the pool', () => {
  const big = parseDhcpConfig({ ...FULL, full: { ...FULL.full!, ranges: [{ start: '10.250.0.100', end: '10.250.0.139' }] } });
  const store = new MemoryLeaseStore();
  let declined = 0;
  for (let i = 0; i < 40; i++) {
    const mac = `52:54:00:00:02:${i.toString(16).padStart(2, '0')}`;
    const offer = dhcpDecide({ packet: packet({ mac, options: plainOptions(MessageType.DISCOVER) }), port: 67, source: { address: '0.0.0.0', port: 68 } }, big, store, NOW);
    if (!offer.change) continue;
    store.apply(offer.change);
    const ip = wire(offer).yiaddr;
    const d = dhcpDecide({ packet: packet({ mac, options: plainOptions(MessageType.DECLINE, [...rawOption(50, ipBytes(ip)), ...serverIdOpt]) }), port: 67, source: { address: '0.0.0.0', port: 68 } }, big, store, NOW);
    if (d.change) { store.apply(d.change); declined++; }
  }
  assert.equal(declined, 5, '40 addresses / 8');
});

test('full: the last tenth of the pool is kept for clients the server knows', () => {
  const big = parseDhcpConfig({ ...FULL, full: { ...FULL.full!, ranges: [{ start: '10.250.0.100', end: '10.250.0.119' }] } });
  const taken = Array.from({ length: 18 }, (_, i) => other(`10.250.0.${100 + i}`, `52:54:00:00:03:${i.toString(16).padStart(2, '0')}`));
  const fresh = (leases: Lease[]) => dhcpDecide({ packet: packet({ mac: '52:54:00:00:04:01', options: plainOptions(MessageType.DISCOVER) }), port: 67, source: { address: '0.0.0.0', port: 68 } }, big, new MemoryLeaseStore(leases), NOW);
  assert.ok(fresh(taken.slice(0, 17)).reply, '3 free of 20: a new client is offered one');
  assert.equal(fresh(taken).reply, undefined, '2 free of 20 (the reserve): a new client is not');
  const back = dhcpDecide({ packet: packet({ mac: '52:54:00:00:04:02', options: plainOptions(MessageType.DISCOVER) }), port: 67, source: { address: '0.0.0.0', port: 68 } }, big,
    new MemoryLeaseStore([...taken, { mac: '52:54:00:00:04:02', ip: '10.250.0.50', expiresAtMs: NOW - 1 }]), NOW);
  assert.match(wire(back).yiaddr, /^10\.250\.0\.11[89]$/, 'a client with a record here gets one of the reserve');
});

test('full: INFORM → ACK with settings, no address, to ciaddr', () => {
  const d = decide({ ciaddr: [10, 250, 0, 77], options: plainOptions(MessageType.INFORM) });
  const r = wire(d);
  assert.equal(r.options.messageType, MessageType.ACK);
  assert.equal(r.yiaddr, '0.0.0.0');
  assert.equal(r.options.leaseSeconds, undefined);
  assert.equal(r.options.raw.get(Opt.SUBNET_MASK)?.join('.'), '255.255.255.0');
  assert.deepEqual(d.reply!.to, { address: '10.250.0.77', port: 68 });
});

test('silent: replies (op 2), BOOTP without message type, full mode on port 4011', () => {
  const reply = rawRequest({ options: plainOptions(MessageType.OFFER) });
  reply[0] = 2;
  assert.equal(dhcpDecide({ packet: decodeDhcp(reply), port: 67, source: { address: '0.0.0.0', port: 68 } }, FULL, new MemoryLeaseStore(), NOW).reply, undefined);
  assert.equal(decide({ options: rawOption(Opt.HOSTNAME, [0x61]) }).reply, undefined);
  assert.equal(decide({ options: pxeRomDiscoverOptions(0) }, FULL, [], 4011).reply, undefined);
});

test('proxy: a PXE DISCOVER gets boot information and no address', () => {
  const d = decide({ options: pxeRomDiscoverOptions(0) }, PROXY);
  const r = wire(d);
  assert.equal(r.options.messageType, MessageType.OFFER);
  assert.equal(r.yiaddr, '0.0.0.0');
  assert.equal(r.siaddr, SERVER);
  assert.equal(r.file, 'undionly.kpxe');
  assert.equal(r.options.vendorClass, 'PXEClient');
  assert.deepEqual([...r.options.raw.get(Opt.VENDOR)!], [6, 1, 8, 255]);
  assert.deepEqual([...r.options.clientMachineId!], EXAMPLE_UUID);
  assert.equal(r.options.leaseSeconds, undefined);
  assert.deepEqual(d.reply!.to, { address: '255.255.255.255', port: 68 });
  assert.equal(d.change, undefined);
});

const PROXY_SILENT: Array<[string, number[], 67 | 4011]> = [
  ['a plain (non-PXE) DISCOVER', plainOptions(MessageType.DISCOVER), 67],
  ['a PXE REQUEST on port 67 (the DHCP server\'s business)', pxeRomDiscoverOptions(0, MessageType.REQUEST), 67],
  ['a PXE DISCOVER on port 4011', pxeRomDiscoverOptions(0), 4011],
  ['an IA32 UEFI client (arch 6)', pxeRomDiscoverOptions(6), 67],
];
for (const [name, options, port] of PROXY_SILENT) {
  test(`proxy: silent to ${name}`, () => assert.equal(decide({ options }, PROXY, [], port).reply, undefined));
}

test('proxy: REQUEST and INFORM on port 4011 → ACK back to where they came from', () => {
  for (const type of [MessageType.REQUEST, MessageType.INFORM]) {
    const d = decide({ ciaddr: [10, 250, 0, 60], options: pxeRomDiscoverOptions(9, type) }, PROXY, [], 4011, { address: '10.250.0.60', port: 4011 });
    const r = wire(d);
    assert.equal(r.options.messageType, MessageType.ACK);
    assert.equal(r.file, 'snponly.efi');
    assert.deepEqual(d.reply!.to, { address: '10.250.0.60', port: 4011 });
  }
});

test('proxy: an iPXE client gets its per-MAC script URL', () => {
  assert.equal(wire(decide({ mac: '52:54:00:ab:cd:ef', options: ipxeDiscoverOptions(7) }, PROXY_HTTP)).file, 'http://10.250.0.1:8080/boot/ipxe?mac=52:54:00:ab:cd:ef');
});

test('config: every problem is listed at once', () => {
  assert.throws(() => parseDhcpConfig({ mode: 'full', serverAddress: '10.250.0.1', full: { subnetMask: '255.255.255.0', ranges: [{ start: '10.250.1.9', end: '10.250.0.2' }], reservations: [{ mac: 'zz', ip: '1.2.3.4' }] } }),
    (err: Error) => /start is after end/.test(err.message) && /outside the server address subnet/.test(err.message) && /MAC address/.test(err.message));
  assert.throws(() => parseDhcpConfig({ mode: 'full', serverAddress: '10.250.0.1' }), /full mode needs/);
});
