// Fuzzes the DHCP path a packet takes in the server: decode → policy (full and proxy mode, with
// leases) → encode the reply → decode it again. Any exception other than DhcpDecodeError, or a
// reply that does not decode, is a crash.
//   node dist/src/netboot/dhcp/fuzz.js [--seconds N] [--seed S]     (npm run fuzz:dhcp)
import { mulberry32 } from '../../lib/prng.js';
import { decodeDhcp, DhcpDecodeError, encodeDhcp, MessageType } from './codec.js';
import { parseDhcpConfig } from './config.js';
import { MemoryLeaseStore } from './leases.js';
import { dhcpDecide } from './policy.js';
import { ipxeDiscoverOptions, plainOptions, pxeRomDiscoverOptions, rawRequest } from './testing.js';

const DEFAULT_SECONDS = 60;
const MAX_PACKET_BYTES = 65_507;
const CONFIGS = [
  parseDhcpConfig({ mode: 'full', serverAddress: '10.250.0.1', ipxeHttp: { address: '10.250.0.1', port: 8080 },
    full: { subnetMask: '255.255.255.0', ranges: [{ start: '10.250.0.100', end: '10.250.0.104' }], router: '10.250.0.1', dns: ['10.250.0.1'],
      reservations: [{ mac: '52:54:00:12:34:56', ip: '10.250.0.20' }] } }),
  parseDhcpConfig({ mode: 'proxy', serverAddress: '10.250.0.1', ipxeHttp: { address: '10.250.0.1', port: 8080 } }),
];

type Rng = () => number;
const int = (rng: Rng, n: number) => Math.floor(rng() * n);

function seedPackets(rng: Rng): Buffer {
  const mac = `52:54:00:00:00:${int(rng, 256).toString(16).padStart(2, '0')}`;
  const seeds = [
    () => rawRequest({ mac, options: ipxeDiscoverOptions(int(rng, 2) ? 0 : 7) }),
    () => rawRequest({ mac, options: pxeRomDiscoverOptions(int(rng, 2) ? 0 : 9, int(rng, 2) ? MessageType.DISCOVER : MessageType.REQUEST) }),
    () => rawRequest({ mac, options: plainOptions([MessageType.DISCOVER, MessageType.REQUEST, MessageType.RELEASE, MessageType.DECLINE, MessageType.INFORM][int(rng, 5)]!) }),
    () => rawRequest({ mac, ciaddr: [10, 250, 0, 100 + int(rng, 5)], options: plainOptions(MessageType.REQUEST) }),
  ];
  return seeds[int(rng, seeds.length)]!();
}

/** Byte flips, truncation, insertion, length-byte tampering, duplication, oversize. */
export function mutatePacket(rng: Rng, packet: Buffer): Buffer {
  let bytes = Buffer.from(packet);
  for (let n = 1 + int(rng, 4); n > 0; n--) {
    const at = int(rng, bytes.length + 1);
    switch (int(rng, 6)) {
      case 0: if (bytes.length) bytes[Math.min(at, bytes.length - 1)]! ^= 1 << int(rng, 8); break;
      case 1: bytes = bytes.subarray(0, at); break;
      case 2: bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([int(rng, 256), int(rng, 256)]), bytes.subarray(at)]); break;
      case 3: if (bytes.length > 241) bytes[240 + int(rng, bytes.length - 240)] = [0, 1, 255, int(rng, 256)][int(rng, 4)]!; break;
      case 4: bytes = Buffer.concat([bytes, bytes.subarray(240)]).subarray(0, MAX_PACKET_BYTES); break;
      default: if (int(rng, 20) === 0) bytes = Buffer.concat([bytes, Buffer.alloc(int(rng, MAX_PACKET_BYTES - bytes.length), int(rng, 256))]);
    }
  }
  return bytes;
}

export type DhcpFuzzOutcome = { kind: 'replied' | 'silent' | 'rejected' } | { kind: 'crash'; why: string };

export function fuzzDhcpOne(bytes: Buffer, leases: MemoryLeaseStore, now: number): DhcpFuzzOutcome {
  let packet;
  try {
    packet = decodeDhcp(bytes);
  } catch (err) {
    if (err instanceof DhcpDecodeError) return { kind: 'rejected' };
    return { kind: 'crash', why: `decode threw ${err instanceof Error ? err.stack : String(err)}` };
  }
  let replied = false;
  for (const config of CONFIGS) {
    for (const port of [67, 4011] as const) {
      try {
        const decision = dhcpDecide({ packet, port, source: { address: '0.0.0.0', port: 68 } }, config, leases, now);
        if (decision.change) leases.apply(decision.change);
        if (!decision.reply) continue;
        decodeDhcp(encodeDhcp(decision.reply.message));
        replied = true;
      } catch (err) {
        return { kind: 'crash', why: `${config.mode} mode, port ${port}: ${err instanceof Error ? err.stack : String(err)}` };
      }
    }
  }
  return { kind: replied ? 'replied' : 'silent' };
}

export function runDhcpFuzz(seed: number, count: number): { tried: number; counts: Record<string, number>; crash?: { why: string; packet: string } } {
  const rng = mulberry32(seed);
  const leases = new MemoryLeaseStore();
  const counts: Record<string, number> = { replied: 0, silent: 0, rejected: 0 };
  for (let i = 0; i < count; i++) {
    const bytes = int(rng, 10) === 0 ? Buffer.from(Array.from({ length: int(rng, 600) }, () => int(rng, 256))) : mutatePacket(rng, seedPackets(rng));
    const outcome = fuzzDhcpOne(bytes, leases, 1_700_000_000_000 + i * 1000);
    if (outcome.kind === 'crash') return { tried: i + 1, counts, crash: { why: outcome.why, packet: bytes.toString('hex') } };
    counts[outcome.kind]!++;
  }
  return { tried: count, counts };
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function main(): void {
  const seconds = Number(argValue('--seconds') ?? DEFAULT_SECONDS);
  const firstSeed = Number(argValue('--seed') ?? Date.now() % 2 ** 31);
  const deadline = Date.now() + seconds * 1000;
  const totals: Record<string, number> = { replied: 0, silent: 0, rejected: 0 };
  let tried = 0;
  for (let seed = firstSeed; Date.now() < deadline; seed++) {
    const result = runDhcpFuzz(seed, 2000);
    tried += result.tried;
    for (const [k, v] of Object.entries(result.counts)) totals[k] = (totals[k] ?? 0) + v;
    if (result.crash) {
      console.error(`CRASH (seed ${seed}, packet ${result.tried} of its run): ${result.crash.why}\npacket (hex): ${result.crash.packet}`);
      process.exit(1);
    }
  }
  console.log(JSON.stringify({ firstSeed, seconds, tried, ...totals, crashes: 0 }));
}

if (import.meta.url === `file://${process.argv[1]}`) main();
