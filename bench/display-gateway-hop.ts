// The display through one agent hop (a VM on an agent's host), against the same stream on the controller's own host,
// alternated in one run. Single host: the browser's socket → the daemon's display pipe → the VNC socket (the native
// relay). One hop: the browser's socket → the controller's display pipe with the agent's stream as its VNC side (the
// Node pipe) → TLS WebSocket the agent dialled back (its own pinned TLS, as agent-streams.ts) → the agent's socketPipe
// → the VNC socket. Measured: throughput of a STREAM_MIB stream, CPU per MiB of each process, and echo round trips.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverCertificateEnsure } from '../src/tls/certs.js';
import { p99, quietTree, runJson, startProcess } from './display-gateway.js';
import { alternatedOrder, median, pairedRatios, round } from './lib/stats.js';

const STREAM_MIB = 256;
const ROUNDS = 3;
const ECHOES = 2000;
const PEER = join(import.meta.dirname, 'display-gateway-peer.js');
type Side = 'single host' | 'one agent hop';

export async function run(): Promise<{ name: string; rows: Array<Record<string, string | number>>; notes?: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'dgh-'));
  const children: ChildProcess[] = [];
  try {
    const bytes = STREAM_MIB * 1024 * 1024;
    const cert = await serverCertificateEnsure(join(dir, 'tls-data'), '127.0.0.1');
    children.push(await startProcess(process.execPath, [PEER, 'source', dir, String(bytes)], 'ready'));
    const single = await startProcess(process.execPath, [PEER, 'proxy', '18941', dir], 'ready');
    const agent = await startProcess(process.execPath, [PEER, 'agent', dir, '18943', cert.fingerprint], 'ready');
    const controller = await startProcess(process.execPath, [PEER, 'controller', '18942', '18943', dir, cert.certPath, cert.keyPath], 'ready');
    children.push(single, agent, controller);
    const url: Record<Side, string> = { 'single host': 'ws://127.0.0.1:18941/?target=stream', 'one agent hop': 'ws://127.0.0.1:18942/?target=stream' };
    const echoUrl: Record<Side, string> = { 'single host': 'ws://127.0.0.1:18941/?target=echo', 'one agent hop': 'ws://127.0.0.1:18942/?target=echo' };
    const mibPerS: Record<Side, number[]> = { 'single host': [], 'one agent hop': [] };
    const cpu: Record<'single host' | 'controller' | 'agent', number[]> = { 'single host': [], controller: [], agent: [] };
    for (const { side } of alternatedOrder<Side>(['single host', 'one agent hop'], ROUNDS)) {
      const pids = side === 'single host' ? { 'single host': single.pid! } : { controller: controller.pid!, agent: agent.pid! };
      const before = Object.fromEntries(await Promise.all(Object.entries(pids).map(async ([k, pid]) => [k, await quietTree(pid)] as const)));
      const r = await runJson<{ seconds: number; bytes: number; complete: boolean }>(['fetch', url[side], String(bytes)]);
      if (!r.complete) throw new Error(`the ${side} stream was cut short at ${r.bytes} bytes`);
      const mib = r.bytes / 1024 / 1024;
      mibPerS[side].push(mib / r.seconds);
      for (const [k, pid] of Object.entries(pids)) cpu[k as keyof typeof cpu].push((((await quietTree(pid)) - before[k]!) * 1000) / mib);
    }
    const echo: Record<Side, number[]> = { 'single host': [], 'one agent hop': [] };
    for (const side of ['single host', 'one agent hop'] as const) echo[side] = (await runJson<{ rttMs: number[] }>(['echo', echoUrl[side], String(ECHOES)])).rttMs;
    const throughput = median(pairedRatios(mibPerS['one agent hop'], mibPerS['single host']));
    const rows: Array<Record<string, string | number>> = [
      { path: 'single host (native relay)', 'MiB/s': round(median(mibPerS['single host']), 1), 'controller cpu ms/MiB': round(median(cpu['single host']), 2), 'agent cpu ms/MiB': '', 'p50 rtt ms': round(median(echo['single host']), 3), 'p99 rtt ms': round(p99(echo['single host']), 3) },
      { path: 'one agent hop (Node pipe, TLS WebSocket)', 'MiB/s': round(median(mibPerS['one agent hop']), 1), 'controller cpu ms/MiB': round(median(cpu.controller), 2), 'agent cpu ms/MiB': round(median(cpu.agent), 2), 'p50 rtt ms': round(median(echo['one agent hop']), 3), 'p99 rtt ms': round(p99(echo['one agent hop']), 3) },
      { path: 'ratio hop/single', 'MiB/s': round(throughput, 2), 'controller cpu ms/MiB': round(median(cpu.controller) / median(cpu['single host']), 2), 'agent cpu ms/MiB': '', 'p50 rtt ms': round(median(echo['one agent hop']) / median(echo['single host']), 2), 'p99 rtt ms': round(p99(echo['one agent hop']) / p99(echo['single host']), 2) },
    ];
    return {
      name: 'display-gateway-hop',
      rows,
      notes: [
        `${STREAM_MIB} MiB stream × ${ROUNDS} rounds each, alternated; ${ECHOES} echoes of 64 bytes`,
        `target: throughput ratio ≥ 0.9 (${throughput >= 0.9 ? 'met' : 'MISSED'})`,
      ],
    };
  } finally {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
