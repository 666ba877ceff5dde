// Image copies to a host without shared storage, against stock tools doing the same job, alternated in one run (the
// runner, tlsCopyRun, is shared with state-move.ts).
// Ardesia: the agent's LocalImages (this process) copies a STREAM_MIB version from the controller's code in a process of
// its own (image-copy-peer.ts) over a pinned TLS WebSocket, writes it to its .part, checks its sha256 and makes a linked
// clone on it — a desktop's first start on that host. Baseline: `openssl s_server -WWW` serving the same file over TLS
// and `curl` fetching it, then `sha256sum` of what arrived (the same bytes, the same TLS, the same check).
import { type ChildProcess, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import pino from 'pino';
import { WebSocket } from 'ws';
import { LocalImages } from '../src/agent/remote/local-images.js';
import { pinnedConnect } from '../src/agent/remote/pinned-tls.js';
import { VmSpec } from '../src/contract/vm.js';
import { serverCertificateEnsure } from '../src/tls/certs.js';
import { quietTree, startProcess } from './display-gateway.js';
import { alternatedOrder, median, pairedRatios, round } from './lib/stats.js';

export const STREAM_MIB = 256;
const ROUNDS = 3;
const PEER = join(import.meta.dirname, 'image-copy-peer.js');
const PORT = 18951;
const BASELINE_PORT = 18952;
type Side = 'ardesia' | 'curl + openssl s_server';

/** What one side of a copy benchmark moves: the file the baseline fetches (under `served`), and the Ardesia code's copy. */
export interface TlsCopyCase {
  name: string;
  /** The Ardesia path's row label. */
  label: string;
  /** Writes the payload under `served` (random data); the file the baseline fetches and its sha256. */
  payload(served: string, dir: string): Promise<{ file: string; sha256: string }>;
  /** The Ardesia code's copy into `host` (a folder of its own per round), from the peer at `url` (pinned `fingerprint`). */
  copy(host: string, url: URL, fingerprint: string, payload: { file: string; sha256: string; bytes: number }): Promise<void>;
  note: string;
}

/** A copy by the controller's code (image-copy-peer.ts, a process of its own) into this process over a pinned TLS
 *  WebSocket, against curl from `openssl s_server -WWW` then sha256sum, alternated, ROUNDS each. */
export async function tlsCopyRun(c: TlsCopyCase): Promise<{ name: string; rows: Array<Record<string, string | number>>; notes?: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'icb-'));
  const children: ChildProcess[] = [];
  try {
    const served = join(dir, 'served');
    mkdirSync(served);
    const { file, sha256 } = await c.payload(served, dir);
    const bytes = statSync(file).size;
    const cert = await serverCertificateEnsure(join(dir, 'tls'), '127.0.0.1');
    const peer = await startProcess(process.execPath, [PEER, String(PORT), cert.certPath, cert.keyPath], 'ready');
    const sServer = await startProcess('openssl', ['s_server', '-WWW', '-accept', String(BASELINE_PORT), '-cert', cert.certPath, '-key', cert.keyPath], 'ACCEPT', served);
    children.push(peer, sServer);
    const url = new URL(`https://127.0.0.1:${PORT}`);
    const mibPerS: Record<Side, number[]> = { ardesia: [], 'curl + openssl s_server': [] };
    const serverCpu: Record<Side, number[]> = { ardesia: [], 'curl + openssl s_server': [] };
    const mib = bytes / 2 ** 20;
    let round_ = 0;
    for (const { side } of alternatedOrder<Side>(['ardesia', 'curl + openssl s_server'], ROUNDS)) {
      const host = join(dir, `host-${round_++}`);
      const serverPid = side === 'ardesia' ? peer.pid! : sServer.pid!;
      const cpuBefore = await quietTree(serverPid);
      const t0 = process.hrtime.bigint();
      if (side === 'ardesia') await c.copy(host, url, cert.fingerprint, { file, sha256, bytes });
      else {
        mkdirSync(host);
        const out = join(host, 'copy');
        execFileSync('curl', ['-sk', '--fail', '-o', out, `https://127.0.0.1:${BASELINE_PORT}/${relative(served, file)}`]);
        const got = execFileSync('sha256sum', [out], { encoding: 'utf8' }).split(' ')[0];
        if (got !== sha256) throw new Error(`curl's copy has sha256 ${got}, not ${sha256}`);
      }
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      mibPerS[side].push(mib / seconds);
      serverCpu[side].push((((await quietTree(serverPid)) - cpuBefore) * 1000) / mib);
      rmSync(host, { recursive: true, force: true });
    }
    const ratio = median(pairedRatios(mibPerS.ardesia, mibPerS['curl + openssl s_server']));
    return {
      name: c.name,
      rows: [
        { path: c.label, 'MiB/s': round(median(mibPerS.ardesia), 1), 'sender cpu ms/MiB': round(median(serverCpu.ardesia), 2) },
        { path: 'curl + openssl s_server -WWW, then sha256sum', 'MiB/s': round(median(mibPerS['curl + openssl s_server']), 1), 'sender cpu ms/MiB': round(median(serverCpu['curl + openssl s_server']), 2) },
        { path: 'ratio ardesia/baseline', 'MiB/s': round(ratio, 2), 'sender cpu ms/MiB': round(median(serverCpu.ardesia) / median(serverCpu['curl + openssl s_server']), 2) },
      ],
      notes: [`${c.note} (${round(mib, 1)} MiB) × ${ROUNDS} rounds each, alternated, over loopback TLS; both ends on this machine`],
    };
  } finally {
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A WebSocket to the peer, its stream asked by `query`, open and paused (the reader resumes it). */
export async function peerStream(url: URL, fingerprint: string, query: string): Promise<WebSocket> {
  const socket = await pinnedConnect(url, fingerprint);
  const ws = new WebSocket(`wss://127.0.0.1:${url.port}/?${query}`, { createConnection: () => socket, perMessageDeflate: false, maxPayload: 2 << 20 });
  await new Promise((ok, fail) => (ws.once('open', ok), ws.once('error', fail)));
  ws.pause();
  return ws;
}

export function run(): ReturnType<typeof tlsCopyRun> {
  return tlsCopyRun({
    name: 'image-copy',
    label: 'ardesia (controller → agent, copy + sha256 + clone)',
    note: 'a qcow2 version (random data)',
    async payload(served, dir) {
      const version = join(served, '1.qcow2');
      // Random bytes (nothing compresses), written as a raw file and converted so the agent sees a real qcow2 version.
      const raw = join(dir, 'raw');
      const fd = openSync(raw, 'w');
      for (let i = 0; i < STREAM_MIB; i++) writeSync(fd, randomBytes(1 << 20));
      closeSync(fd);
      execFileSync('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, version]);
      rmSync(raw);
      return { file: version, sha256: execFileSync('sha256sum', [version], { encoding: 'utf8' }).split(' ')[0]! };
    },
    async copy(host, url, fingerprint, { file, sha256, bytes }) {
      const images = new LocalImages(host, 'bench', pino({ level: 'silent' }));
      images.fetcher = async (path, offset) => ({ ws: await peerStream(url, fingerprint, `path=${encodeURIComponent(path)}&offset=${offset}`), size: bytes, sha256 });
      await images.prepare(VmSpec.parse({ name: 'd1', disks: [{ path: '/ctl/desktops/d1/system.qcow2' }] }), [{ path: file, sha256 }], { disks: [{ disk: 0, base: file }], boot: [] });
    },
  });
}
