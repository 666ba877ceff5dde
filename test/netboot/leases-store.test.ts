// DHCP leases in the real SQLite store survive a restart: the same client gets its address back,
// another client cannot take it, and released or declined addresses behave after the reopen too.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseDhcpConfig } from '../../src/netboot/dhcp/config.js';
import { dhcpDecide } from '../../src/netboot/dhcp/policy.js';
import { SqliteLeaseStore } from '../../src/netboot/dhcp/store-leases.js';
import { BOOTREQUEST, decodeDhcp, encodeDhcp, MessageType, Opt, optionValue } from '../../src/netboot/dhcp/codec.js';
import { macToBytes } from '../../src/contract/ipv4.js';
import { openStore } from '../../src/store/db.js';

const CONFIG = parseDhcpConfig({ mode: 'full', serverAddress: '10.250.9.1', full: { subnetMask: '255.255.255.0', ranges: [{ start: '10.250.9.100', end: '10.250.9.110' }] } });

function packet(mac: string, type: number, extra: Array<[number, Buffer]> = []) {
  return decodeDhcp(encodeDhcp({ op: BOOTREQUEST, xid: 7, chaddr: macToBytes(mac), options: [[Opt.MESSAGE_TYPE, optionValue.u8(type)], ...extra] }));
}

function bind(leases: SqliteLeaseStore, mac: string, now: number): string {
  const offer = dhcpDecide({ packet: packet(mac, MessageType.DISCOVER), port: 67, source: { address: '0.0.0.0', port: 68 } }, CONFIG, leases, now);
  const ip = offer.reply!.message.yiaddr!;
  leases.apply(offer.change!);
  const ack = dhcpDecide({ packet: packet(mac, MessageType.REQUEST, [[Opt.REQUESTED_IP, Buffer.from(ip.split('.').map(Number))], [Opt.SERVER_ID, Buffer.from([10, 250, 9, 1])]]), port: 67, source: { address: '0.0.0.0', port: 68 } }, CONFIG, leases, now);
  assert.match(ack.reason, /^ACK/);
  leases.apply(ack.change!);
  return ip;
}

test('leases persist across a reopen of the store', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nbl-'));
  try {
    const now = Date.now();
    let store = await openStore(join(dir, 'ardesia.db'));
    let leases = await SqliteLeaseStore.open(store, { now });
    const a = bind(leases, '52:54:00:09:00:01', now);
    const b = bind(leases, '52:54:00:09:00:02', now);
    const c = bind(leases, '52:54:00:09:00:03', now);
    assert.equal(new Set([a, b, c]).size, 3);
    leases.apply({ kind: 'release', mac: '52:54:00:09:00:02', ip: b });
    leases.apply({ kind: 'decline', ip: '10.250.9.110', untilMs: now + 600_000 });
    await leases.flush();
    await store.destroy();

    store = await openStore(join(dir, 'ardesia.db'));
    leases = await SqliteLeaseStore.open(store, { now });
    assert.equal(leases.byMac('52:54:00:09:00:01')?.ip, a);
    assert.equal(leases.byMac('52:54:00:09:00:03')?.ip, c);
    assert.equal(leases.byMac('52:54:00:09:00:02'), undefined);
    assert.equal(leases.byIp('10.250.9.110')?.declined, true);
    // The same client gets its address back; another client asking for it is refused.
    assert.equal(bind(leases, '52:54:00:09:00:01', now), a);
    const stolen = dhcpDecide({ packet: packet('52:54:00:09:00:09', MessageType.REQUEST, [[Opt.REQUESTED_IP, Buffer.from(a.split('.').map(Number))]]), port: 67, source: { address: '0.0.0.0', port: 68 } }, CONFIG, leases, now);
    assert.equal(stolen.change, undefined, `no lease for a client that was never offered it: ${stolen.reason}`);
    assert.doesNotMatch(stolen.reason, /^ACK/);
    const rows = await store.selectFrom('dhcp_leases').selectAll().execute();
    assert.equal(rows.length, 3);
    await store.destroy();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('leases expired long ago are forgotten at open', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nbl-'));
  try {
    const store = await openStore(join(dir, 'ardesia.db'));
    await store.insertInto('dhcp_leases').values({ ip: '10.250.9.100', mac: '52:54:00:09:00:05', expires_at_ms: Date.now() - 2 * 24 * 3600_000, hostname: null, declined: 0 }).execute();
    const leases = await SqliteLeaseStore.open(store);
    assert.equal(leases.list().length, 0);
    await store.destroy();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
