// Client-side tools the netboot tests run INSIDE a client namespace (`ip netns exec NS node
// tools.js SUBCOMMAND …`). Each prints one JSON value on stdout.
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { parseArgs } from 'node:util';
import { decodeDhcp, encodeDhcp, MessageType, Opt, optionValue, BOOTREQUEST, BROADCAST_FLAG } from '../../src/netboot/dhcp/codec.js';
import { ipxeDiscoverOptions, pxeRomDiscoverOptions, rawOption, rawRequest } from '../../src/netboot/dhcp/testing.js';
import { macToBytes } from '../../src/contract/ipv4.js';
import { decodeTftp, encodeAck, encodeRequest } from '../../src/netboot/tftp/codec.js';
import { tftpGet } from '../../src/netboot/tftp/client.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    server: { type: 'string' }, from: { type: 'string' }, mac: { type: 'string' }, arch: { type: 'string' }, ipxe: { type: 'boolean' },
    type: { type: 'string' }, port: { type: 'string' }, listen: { type: 'string' }, count: { type: 'string' }, file: { type: 'string', multiple: true },
    blksize: { type: 'string' }, hex: { type: 'string' }, tsize: { type: 'boolean' }, timeout: { type: 'string' },
  },
});

function bind(address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: 'udp4', reuseAddr: true });
    s.once('error', reject);
    s.bind({ address, port }, () => { s.setBroadcast(true); resolve(s); });
  });
}

function summary(msg: Buffer, from: string) {
  const p = decodeDhcp(msg);
  return { from, type: p.options.messageType, xid: p.xid, yiaddr: p.yiaddr, siaddr: p.siaddr, file: p.file, serverId: p.options.serverId,
    vendorClass: p.options.vendorClass, vendor: p.options.raw.get(Opt.VENDOR)?.toString('hex'), uuid: p.options.clientMachineId?.toString('hex') };
}

/** A PXE DISCOVER (or, with --port 4011, a REQUEST to the proxy) built with our codec; collects replies. */
async function pxe(): Promise<unknown> {
  const from = values.from ?? '0.0.0.0';
  const port = Number(values.port ?? 67);
  const mac = macToBytes(values.mac ?? '52:54:00:12:34:56');
  const arch = Number(values.arch ?? 0);
  const xid = randomBytes(4).readUInt32BE(0);
  const type = values.type === 'request' ? MessageType.REQUEST : MessageType.DISCOVER;
  const template = decodeDhcp(rawRequest({ options: values.ipxe ? ipxeDiscoverOptions(arch) : pxeRomDiscoverOptions(arch, type) }));
  const options: Array<[number, Buffer]> = [...template.options.raw].filter(([code]) => code !== Opt.MESSAGE_TYPE);
  const bytes = encodeDhcp({ op: BOOTREQUEST, xid, chaddr: mac, flags: port === 67 ? BROADCAST_FLAG : 0, ciaddr: port === 67 ? undefined : from,
    options: [[Opt.MESSAGE_TYPE, optionValue.u8(type)], ...options] });
  const clientPort = port === 67 ? 68 : 4011;
  const sockets = [await bind(from, clientPort)];
  if (from !== '0.0.0.0') sockets.push(await bind('255.255.255.255', clientPort));
  const replies: unknown[] = [];
  for (const s of sockets) s.on('message', (m, r) => { try { const x = summary(m, r.address); if (x.xid === xid) replies.push(x); } catch { /* not DHCP */ } });
  sockets[0]!.send(bytes, port, port === 67 ? '255.255.255.255' : values.server!);
  await new Promise((r) => setTimeout(r, Number(values.listen ?? 2000)));
  for (const s of sockets) s.close();
  return replies;
}

/** Bad packets, then `count` DISCOVERs from random MACs, all to the server's port 67. */
async function flood(): Promise<unknown> {
  const s = await bind(values.from ?? '0.0.0.0', 0);
  const target = values.server ?? '255.255.255.255';
  const valid = rawRequest({ options: ipxeDiscoverOptions(0) });
  const bad = [Buffer.alloc(0), Buffer.from([1]), valid.subarray(0, 239), valid.subarray(0, 250), Buffer.alloc(9001, 1), Buffer.concat([valid.subarray(0, 240), Buffer.from([53, 9])]),
    rawRequest({ options: rawOption(93, [0, 0, 7]) }), randomBytes(300), randomBytes(1400)];
  const send = (b: Buffer) => new Promise<void>((resolve) => s.send(b, 67, target, () => resolve()));
  for (const b of bad) await send(b);
  const count = Number(values.count ?? 2000);
  for (let i = 0; i < count; i++) {
    const mac = Buffer.concat([Buffer.from([0x02]), randomBytes(5)]);
    await send(encodeDhcp({ op: BOOTREQUEST, xid: i, chaddr: mac, options: [[Opt.MESSAGE_TYPE, optionValue.u8(MessageType.DISCOVER)]] }));
  }
  s.close();
  return { bad: bad.length, discovers: count };
}

/** Parallel fetches with our TFTP client: one result (or error) per file argument. */
async function tftp(): Promise<unknown> {
  const files = values.file ?? [];
  return Promise.all(files.map((file) => tftpGet({ server: values.server!, file, blksize: values.blksize ? Number(values.blksize) : undefined, tsize: values.tsize, timeoutMs: Number(values.timeout ?? 1000) })
    .then((r) => ({ file, ...r }), (err: Error & { code?: unknown }) => ({ file, error: err.message, code: err.code }))));
}

/** One raw datagram to the TFTP port; the first answer decoded (or null). */
async function tftpRaw(): Promise<unknown> {
  const s = await bind('0.0.0.0', 0);
  const reply = new Promise<unknown>((resolve) => {
    const timer = setTimeout(() => resolve(null), Number(values.listen ?? 2000));
    s.on('message', (m) => { clearTimeout(timer); try { resolve(decodeTftp(m)); } catch { resolve({ undecodable: m.toString('hex') }); } });
  });
  s.send(Buffer.from(values.hex ?? '', 'hex'), Number(values.port ?? 69), values.server!);
  const out = await reply;
  s.close();
  return out;
}

/** Requests a file and never ACKs: counts how often block 1 arrives (the server must resend). */
async function tftpNoAck(): Promise<unknown> {
  const s = await bind('0.0.0.0', 0);
  let copies = 0;
  let error: unknown = null;
  s.on('message', (m) => { const p = decodeTftp(m); if (p.op === 'data' && p.block === 1) copies++; if (p.op === 'error') error = p; });
  s.send(encodeRequest('rrq', values.file![0]!, 'octet'), 69, values.server!);
  await new Promise((r) => setTimeout(r, Number(values.listen ?? 8000)));
  s.close();
  return { copies, error };
}

/** Fetches with a lossy client: ignores the first copy of every 7th block, so the server must resend. */
async function tftpLossy(): Promise<unknown> {
  const s = await bind('0.0.0.0', 0);
  let expected = 1;
  let bytes = 0;
  const dropped = new Set<number>();
  return new Promise((resolve) => {
    s.on('message', (m, r) => {
      const p = decodeTftp(m);
      if (p.op !== 'data' || p.block !== (expected & 0xffff)) return;
      if (expected % 7 === 0 && !dropped.has(expected)) { dropped.add(expected); return; }
      bytes += p.data.length;
      expected++;
      // The last ACK must leave before the socket closes, or the server resends to a closed port.
      if (p.data.length < 512) s.send(encodeAck(p.block), r.port, r.address, () => { s.close(); resolve({ bytes, dropped: dropped.size }); });
      else s.send(encodeAck(p.block), r.port, r.address);
    });
    s.send(encodeRequest('rrq', values.file![0]!, 'octet'), 69, values.server!);
  });
}

/**
 * Like a PXE ROM's size probe: requests file 1, takes its first packet without an ACK, then sends ONE
 * request for file 2 from the same port, not resent, and fetches it from whichever new TID answers.
 */
async function tftpNewRequest(): Promise<unknown> {
  const [first, second] = values.file!;
  const s = await bind('0.0.0.0', 0);
  const packets: Array<{ port: number; op: string; block?: number; code?: number }> = [];
  let oldTid: number | undefined;
  let bytes = 0;
  const result = new Promise<unknown>((resolve) => {
    const timer = setTimeout(() => resolve({ answered: false, oldTid, packets }), Number(values.listen ?? 10_000));
    s.on('message', (m, r) => {
      const p = decodeTftp(m);
      packets.push({ port: r.port, op: p.op, ...(p.op === 'data' ? { block: p.block } : {}), ...(p.op === 'error' ? { code: p.code } : {}) });
      if (oldTid === undefined) {
        oldTid = r.port;
        s.send(encodeRequest('rrq', second!, 'octet'), 69, values.server!);
        return;
      }
      if (r.port === oldTid || p.op !== 'data') return;
      bytes += p.data.length;
      if (p.data.length < 512) s.send(encodeAck(p.block), r.port, r.address, () => { clearTimeout(timer); resolve({ answered: true, bytes, oldTid, newTid: r.port, packets }); });
      else s.send(encodeAck(p.block), r.port, r.address);
    });
  });
  s.send(encodeRequest('rrq', first!, 'octet', { tsize: '0' }), 69, values.server!);
  const out = await result;
  s.close();
  return out;
}

const COMMANDS: Record<string, () => Promise<unknown>> = {
  pxe, flood, tftp, 'tftp-raw': tftpRaw, 'tftp-no-ack': tftpNoAck, 'tftp-lossy': tftpLossy, 'tftp-new-request': tftpNewRequest,
};
const command = COMMANDS[positionals[0] ?? ''];
if (!command) {
  process.stderr.write(`usage: tools.js ${Object.keys(COMMANDS).join('|')} [options]\n`);
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(await command())}\n`);
