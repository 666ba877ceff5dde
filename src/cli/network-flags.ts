// The network flags of `pool create|set` and `desktop create`, parsed once into the wire field.
import { ArdesiaError } from '../contract/errors.js';
import { poolNetworkFromText } from '../contract/network.js';

const NETWORK_HINT = 'README.md, "Desktop networks", says what each mode does; `ardesia pool create --help` lists the flags.';

/** `--network none|nat|bridge:BR` with `--nat-allow HOST:PORT,…` (restricted NAT) or `--nat-host-access`, as a pool's or desktop's network field. */
export function networkFromFlags(f: { network?: string; natAllow?: string; natHostAccess?: boolean }): unknown {
  const network = poolNetworkFromText(f.network ?? (f.natAllow !== undefined || f.natHostAccess ? 'nat' : ''));
  if (!network) throw new ArdesiaError('BAD_REQUEST', `--network takes none, nat or bridge:BRIDGE (a Linux bridge name), not "${f.network}"`, undefined, NETWORK_HINT);
  if (f.natHostAccess) {
    if (network.mode !== 'nat' || f.natAllow !== undefined) throw new ArdesiaError('BAD_REQUEST', '--nat-host-access opens unrestricted NAT to this host: use it with --network nat and without --nat-allow', undefined, NETWORK_HINT);
    return { ...network, hostAccess: true };
  }
  if (f.natAllow === undefined) return network;
  if (network.mode !== 'nat') throw new ArdesiaError('BAD_REQUEST', '--nat-allow restricts NAT: use it with --network nat', undefined, NETWORK_HINT);
  const allow = f.natAllow.split(',').map((item) => item.trim()).filter(Boolean).map((item) => {
    const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(item);
    if (!m) throw new ArdesiaError('BAD_REQUEST', `--nat-allow takes HOST:PORT items like 10.1.2.3:445 (IPv4, TCP), not "${item}"`, undefined, NETWORK_HINT);
    return { host: m[1]!, port: Number(m[2]) };
  });
  return { ...network, allow };
}
