// DHCP decisions, pure: a decoded request + configuration + lease state + the time → the reply
// to send (and where), the lease change to record, and a one-line reason for the log.
import { intToIp, ipToInt, LIMITED_BROADCAST, sameSubnet, ZERO_ADDRESS } from '../../contract/ipv4.js';
import { bootTarget, type BootTarget } from './boot.js';
import { BOOTREPLY, BOOTREQUEST, MessageType, messageTypeName, Opt, optionValue, type DhcpMessage, type DhcpPacket } from './codec.js';
import type { DhcpConfig, FullModeConfig } from './config.js';
import type { Lease, LeaseChange, LeaseView } from './leases.js';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
export const PXE_PROXY_PORT = 4011;
/** How long an address a client declined stays out of the pool. */
export const DECLINE_HOLD_MS = 10 * 60_000;
/** How long an offer is remembered: the client's REQUEST (SELECTING) or DECLINE must name it within this time. */
export const OFFER_HOLD_MS = 60_000;
/** The last tenth of the pool is kept for clients that held a lease before (a flood of new MACs cannot take it). */
export const POOL_RESERVE_FRACTION = 0.1;
/** Declined addresses held back at once, at most this part of the pool (DECLINEs cannot empty it). */
export const DECLINED_MAX_FRACTION = 0.125;
/** PXE vendor sub-option 6 = 8: boot the file in this offer, no boot-server discovery or menu. */
const PXE_DISCOVERY_CONTROL = 6;
const PXE_BOOT_FILE_DIRECTLY = 8;

export interface DhcpRequest {
  packet: DhcpPacket;
  /** The server port the request arrived on. */
  port: typeof DHCP_SERVER_PORT | typeof PXE_PROXY_PORT;
  source: { address: string; port: number };
}

export interface DhcpReply {
  message: DhcpMessage;
  to: { address: string; port: number };
}

export interface DhcpDecision {
  reply?: DhcpReply;
  change?: LeaseChange;
  reason: string;
  /** A first lease for a MAC with no record here: the server takes it from its new-client budget. */
  newClient?: boolean;
}

const silent = (reason: string): DhcpDecision => ({ reason });

export function dhcpDecide(req: DhcpRequest, config: DhcpConfig, leases: LeaseView, nowMs: number): DhcpDecision {
  const { packet } = req;
  if (packet.op !== BOOTREQUEST) return silent('not a BOOTREQUEST');
  if (packet.options.messageType === undefined) return silent('BOOTP without DHCP message type: not served');
  return config.mode === 'proxy' ? proxyDecide(req, config) : fullDecide(req, config, config.full!, leases, nowMs);
}

// ---------- where replies go (RFC 2131 §4.1) ----------

/** Without SO_BINDTODEVICE or ARP injection, a client with no address is reached by broadcast. */
function replyDestination(packet: DhcpPacket, isNak: boolean): { address: string; port: number } {
  if (packet.giaddr !== ZERO_ADDRESS) return { address: packet.giaddr, port: DHCP_SERVER_PORT };
  if (!isNak && packet.ciaddr !== ZERO_ADDRESS) return { address: packet.ciaddr, port: DHCP_CLIENT_PORT };
  return { address: LIMITED_BROADCAST, port: DHCP_CLIENT_PORT };
}

function replyBase(packet: DhcpPacket, type: number, serverId: string): DhcpMessage {
  return {
    op: BOOTREPLY, htype: packet.htype, xid: packet.xid, chaddr: packet.chaddr, flags: packet.flags, giaddr: packet.giaddr,
    options: [[Opt.MESSAGE_TYPE, optionValue.u8(type)], [Opt.SERVER_ID, optionValue.ip(serverId)]],
  };
}

function addBootFile(msg: DhcpMessage, target: Extract<BootTarget, { kind: 'file' }>, config: DhcpConfig): void {
  msg.siaddr = config.tftpServer ?? config.serverAddress;
  msg.file = target.file;
  msg.options.push([Opt.BOOTFILE, optionValue.text(target.file)]);
}

// ---------- proxyDHCP (PXE spec §2.2.4): boot information only, never an address ----------

function proxyDecide(req: DhcpRequest, config: DhcpConfig): DhcpDecision {
  const { packet } = req;
  const type = packet.options.messageType;
  const target = bootTarget(packet, config);
  if (target.kind === 'not-pxe') return silent('proxy: not a PXE client (option 60 is not PXEClient)');
  if (target.kind === 'unsupported-arch') return silent(`proxy: client architecture ${target.arch} has no boot file`);
  let replyType: number;
  let to: { address: string; port: number };
  if (req.port === DHCP_SERVER_PORT) {
    if (type !== MessageType.DISCOVER) return silent(`proxy: ${messageTypeName(type)} on port 67 belongs to the DHCP server`);
    replyType = MessageType.OFFER;
    to = replyDestination(packet, false);
  } else {
    if (type !== MessageType.REQUEST && type !== MessageType.INFORM) return silent(`proxy: ${messageTypeName(type)} on port 4011 ignored`);
    replyType = MessageType.ACK;
    // §2.2.5: the answer to a port-4011 request goes back to the address and port it came from.
    to = req.source.address === ZERO_ADDRESS ? { address: LIMITED_BROADCAST, port: req.source.port } : req.source;
  }
  const msg = replyBase(packet, replyType, config.serverAddress);
  msg.options.push([Opt.VENDOR_CLASS, optionValue.text('PXEClient')]);
  msg.options.push([Opt.VENDOR, optionValue.subOptions([[PXE_DISCOVERY_CONTROL, optionValue.u8(PXE_BOOT_FILE_DIRECTLY)]])]);
  const uuid = packet.options.raw.get(Opt.CLIENT_MACHINE_ID);
  if (uuid) msg.options.push([Opt.CLIENT_MACHINE_ID, uuid]);
  addBootFile(msg, target, config);
  return { reply: { message: msg, to }, reason: `proxy: ${messageTypeName(replyType)} ${target.file} to ${packet.mac} (${target.firmware}${target.ipxe ? ', iPXE' : ''})` };
}

// ---------- full mode: addresses and boot information ----------

function inRanges(full: FullModeConfig, ip: string): boolean {
  const v = ipToInt(ip);
  return full.ranges.some((r) => v >= ipToInt(r.start) && v <= ipToInt(r.end));
}

function reservationFor(full: FullModeConfig, mac: string) {
  return full.reservations.find((r) => r.mac === mac);
}

/** Free for this client: not reserved for another MAC, not held by an unexpired lease of another. */
function isFreeFor(ip: string, mac: string, full: FullModeConfig, config: DhcpConfig, leases: LeaseView, nowMs: number): boolean {
  if (ip === config.serverAddress || ip === full.router) return false;
  if (full.reservations.some((r) => r.ip === ip && r.mac !== mac)) return false;
  const held: Lease | undefined = leases.byIp(ip);
  return !held || (held.mac === mac && !held.declined) || held.expiresAtMs <= nowMs;
}

/** FNV-1a of the MAC: each client starts its search at its own place, so floods rarely collide. */
function macHash(mac: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < mac.length; i++) h = Math.imul(h ^ mac.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function chooseAddress(packet: DhcpPacket, config: DhcpConfig, full: FullModeConfig, leases: LeaseView, nowMs: number): string | undefined {
  const { mac } = packet;
  const reserved = reservationFor(full, mac);
  if (reserved) return reserved.ip;
  const free = (ip: string) => isFreeFor(ip, mac, full, config, leases, nowMs);
  const previous = leases.byMac(mac);
  if (previous && inRanges(full, previous.ip) && free(previous.ip)) return previous.ip;
  const wanted = packet.options.requestedIp;
  if (wanted && inRanges(full, wanted) && free(wanted)) return wanted;
  const sizes = full.ranges.map((r) => ipToInt(r.end) - ipToInt(r.start) + 1);
  const total = sizes.reduce((a, b) => a + b, 0);
  const start = macHash(mac) % total;
  for (let k = 0; k < total; k++) {
    const ip = nthAddress(full, sizes, (start + k) % total);
    if (free(ip)) return ip;
  }
  return undefined;
}

/** The n-th address counting through all ranges in order. */
function nthAddress(full: FullModeConfig, sizes: number[], n: number): string {
  let rest = n;
  for (let i = 0; i < sizes.length; i++) {
    if (rest < sizes[i]!) return intToIp(ipToInt(full.ranges[i]!.start) + rest);
    rest -= sizes[i]!;
  }
  throw new RangeError(`address index ${n} beyond the ranges`);
}

function poolSize(full: FullModeConfig): number {
  return full.ranges.reduce((n, r) => n + ipToInt(r.end) - ipToInt(r.start) + 1, 0);
}

/** Unexpired leases (declined ones included) inside the ranges, and how many of them are declined. */
function poolUse(full: FullModeConfig, leases: LeaseView, nowMs: number): { held: number; declined: number } {
  let held = 0;
  let declined = 0;
  for (const l of leases.list()) {
    if (l.expiresAtMs <= nowMs || !inRanges(full, l.ip)) continue;
    held++;
    if (l.declined) declined++;
  }
  return { held, declined };
}

/** A client with a lease record here (even expired) or a reservation: it may use the pool's reserve. */
export function isKnownClient(full: FullModeConfig, mac: string, leases: LeaseView): boolean {
  return reservationFor(full, mac) !== undefined || leases.knows(mac);
}

/** A new client may take an address only while more than the reserve is free. */
function poolLowForNewClients(full: FullModeConfig, leases: LeaseView, nowMs: number): boolean {
  const size = poolSize(full);
  const reserve = Math.floor(size * POOL_RESERVE_FRACTION);
  return size - poolUse(full, leases, nowMs).held <= reserve;
}

/** Is `ip` acceptable for this client in a REQUEST (RFC 2131 §4.3.2)? */
function mayHave(packet: DhcpPacket, ip: string, config: DhcpConfig, full: FullModeConfig, leases: LeaseView, nowMs: number): boolean {
  if (!sameSubnet(ip, config.serverAddress, full.subnetMask)) return false;
  const reserved = reservationFor(full, packet.mac);
  if (reserved) return reserved.ip === ip;
  return inRanges(full, ip) && isFreeFor(ip, packet.mac, full, config, leases, nowMs);
}

function addressReply(packet: DhcpPacket, type: number, ip: string | undefined, config: DhcpConfig, full: FullModeConfig): DhcpMessage {
  const msg = replyBase(packet, type, config.serverAddress);
  if (ip) {
    msg.yiaddr = ip;
    msg.options.push([Opt.LEASE_TIME, optionValue.u32(full.leaseSeconds)]);
    msg.options.push([Opt.RENEWAL_T1, optionValue.u32(Math.floor(full.leaseSeconds / 2))]);
    msg.options.push([Opt.REBINDING_T2, optionValue.u32(Math.floor((full.leaseSeconds * 7) / 8))]);
  }
  msg.options.push([Opt.SUBNET_MASK, optionValue.ip(full.subnetMask)]);
  if (full.router) msg.options.push([Opt.ROUTER, optionValue.ip(full.router)]);
  if (full.dns.length) msg.options.push([Opt.DNS, optionValue.ips(full.dns)]);
  if (full.domain) msg.options.push([Opt.DOMAIN, optionValue.text(full.domain)]);
  const hostname = reservationFor(full, packet.mac)?.hostname;
  if (hostname) msg.options.push([Opt.HOSTNAME, optionValue.text(hostname)]);
  const target = bootTarget(packet, config);
  if (target.kind === 'file') addBootFile(msg, target, config);
  return msg;
}

function nak(packet: DhcpPacket, config: DhcpConfig, why: string): DhcpDecision {
  const msg = replyBase(packet, MessageType.NAK, config.serverAddress);
  msg.options.push([Opt.MESSAGE, optionValue.text(why)]);
  return { reply: { message: msg, to: replyDestination(packet, true) }, reason: `NAK ${packet.mac}: ${why}` };
}

function fullDecide(req: DhcpRequest, config: DhcpConfig, full: FullModeConfig, leases: LeaseView, nowMs: number): DhcpDecision {
  const { packet } = req;
  if (req.port !== DHCP_SERVER_PORT) return silent('full mode answers on port 67 only');
  const { mac } = packet;
  switch (packet.options.messageType) {
    case MessageType.DISCOVER: {
      // Offers are remembered for the REQUEST and DECLINE checks but reserve nothing: a DISCOVER flood cannot exhaust the pool.
      const known = isKnownClient(full, mac, leases);
      if (!known && poolLowForNewClients(full, leases, nowMs)) return silent(`DISCOVER from ${mac}: the pool's reserve is kept for known clients`);
      const ip = chooseAddress(packet, config, full, leases, nowMs);
      if (!ip) return silent(`DISCOVER from ${mac}: no free address in the ranges`);
      return {
        reply: { message: addressReply(packet, MessageType.OFFER, ip, config, full), to: replyDestination(packet, false) },
        change: { kind: 'offer', offer: { mac, ip, untilMs: nowMs + OFFER_HOLD_MS } },
        reason: `OFFER ${ip} to ${mac}`,
      };
    }
    case MessageType.REQUEST:
      return requestDecide(packet, config, full, leases, nowMs);
    case MessageType.RELEASE:
      if (leases.byMac(mac)?.ip !== packet.ciaddr) return silent(`RELEASE from ${mac} of ${packet.ciaddr}: not its lease`);
      return { change: { kind: 'release', mac, ip: packet.ciaddr }, reason: `RELEASE ${packet.ciaddr} by ${mac}` };
    case MessageType.DECLINE:
      return declineDecide(packet, config, full, leases, nowMs);
    case MessageType.INFORM: {
      const to = packet.ciaddr !== ZERO_ADDRESS ? replyDestination(packet, false) : req.source;
      return { reply: { message: addressReply(packet, MessageType.ACK, undefined, config, full), to }, reason: `INFORM ACK to ${mac}` };
    }
    default:
      return silent(`${messageTypeName(packet.options.messageType)} from ${mac} ignored`);
  }
}

/**
 * RFC 2131 §4.3.2. SELECTING (server id given): only the address we offered this client, or the one
 * it holds. INIT-REBOOT / RENEWING (no server id): only a client we have a record of; one we never
 * saw is answered with silence, as the RFC says, so no address is ever bound without an offer first.
 */
function requestDecide(packet: DhcpPacket, config: DhcpConfig, full: FullModeConfig, leases: LeaseView, nowMs: number): DhcpDecision {
  const { mac } = packet;
  const { serverId, requestedIp } = packet.options;
  if (serverId !== undefined && serverId !== config.serverAddress) return silent(`REQUEST from ${mac} selects server ${serverId}`);
  const ip = requestedIp ?? (packet.ciaddr !== ZERO_ADDRESS ? packet.ciaddr : undefined);
  if (!ip) return silent(`REQUEST from ${mac} names no address`);
  if (!sameSubnet(ip, config.serverAddress, full.subnetMask)) return nak(packet, config, `address ${ip} is not on this network`);
  const known = isKnownClient(full, mac, leases);
  if (serverId !== undefined) {
    const offered = leases.offerTo(mac, nowMs)?.ip === ip;
    const holds = leases.byMac(mac)?.ip === ip || reservationFor(full, mac)?.ip === ip;
    if (!offered && !holds) return nak(packet, config, `address ${ip} was not offered to ${mac}`);
  } else if (!known) {
    return silent(`REQUEST from ${mac} for ${ip}: no record of this client (RFC 2131 §4.3.2: silent)`);
  }
  if (!mayHave(packet, ip, config, full, leases, nowMs)) return nak(packet, config, `address ${ip} is not available to ${mac}`);
  if (!known && poolLowForNewClients(full, leases, nowMs)) return nak(packet, config, `the pool's last addresses are kept for known clients`);
  const lease: Lease = { mac, ip, expiresAtMs: nowMs + full.leaseSeconds * 1000 };
  if (packet.options.hostname) lease.hostname = packet.options.hostname;
  return {
    reply: { message: addressReply(packet, MessageType.ACK, ip, config, full), to: replyDestination(packet, false) },
    change: { kind: 'bind', lease }, reason: `ACK ${ip} to ${mac}`, ...(known ? {} : { newClient: true }),
  };
}

/**
 * A DECLINE (the address answered ARP: someone else uses it) takes an address out of the pool, so it
 * counts only from the client it was offered to or that holds it, and declined addresses never pass
 * DECLINED_MAX_FRACTION of the pool.
 */
function declineDecide(packet: DhcpPacket, config: DhcpConfig, full: FullModeConfig, leases: LeaseView, nowMs: number): DhcpDecision {
  const { mac } = packet;
  const ip = packet.options.requestedIp;
  if (!ip || packet.options.serverId !== config.serverAddress || !inRanges(full, ip)) return silent(`DECLINE from ${mac} ignored`);
  const held = leases.byIp(ip);
  const holds = held !== undefined && held.mac === mac && !held.declined && held.expiresAtMs > nowMs;
  if (!holds && leases.offerTo(mac, nowMs)?.ip !== ip) return silent(`DECLINE of ${ip} by ${mac} ignored: not offered to it nor held by it`);
  if (poolUse(full, leases, nowMs).declined >= Math.max(1, Math.floor(poolSize(full) * DECLINED_MAX_FRACTION)))
    return silent(`DECLINE of ${ip} by ${mac} ignored: ${Math.round(DECLINED_MAX_FRACTION * 100)} % of the pool is already held back as declined`);
  return { change: { kind: 'decline', ip, untilMs: nowMs + DECLINE_HOLD_MS }, reason: `DECLINE ${ip} by ${mac}: held back` };
}
