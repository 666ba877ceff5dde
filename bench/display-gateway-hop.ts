// The display through one agent hop (a VM on an agent's host), against the same stream on the controller's own host,
// alternated in one run. Single host: the browser's socket → the daemon's display pipe → the VNC socket (the native
// relay). One hop, native (what a display to an agent's host takes): the browser's socket → the native relay → a socket
// pair → the controller's end of the display hop (native/display-hop.c, TLS in OpenSSL) → the agent's end → the VNC
// socket. One hop, WebSocket stream (an agent without the hop): the browser's socket → the controller's display pipe
// with the agent's stream as its VNC side (the Node pipe) → TLS WebSocket the agent dialled back (its own pinned TLS, as
// agent-streams.ts) → the agent's socketPipe → the VNC socket. Measured: throughput of a STREAM_MIB stream, CPU per MiB
// of each process tree, and echo round trips.
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
type Side = 'single host' | 'one agent hop' | 'hop, WebSocket stream';
const SIDES: Side[] = ['single host', 'one agent hop', 'hop, WebSocket stream'];

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
    const hopAgent = await startProcess(process.execPath, [PEER, 'hop-agent', dir, cert.fingerprint], 'ready');
    const hopController = await startProcess(process.execPath, [PEER, 'hop-controller', '18944', dir, cert.certPath, cert.keyPath], 'ready');
    children.push(single, agent, controller, hopAgent, hopController);
    const port: Record<Side, number> = { 'single host': 18941, 'one agent hop': 18944, 'hop, WebSocket stream': 18942 };
    const processes: Record<Side, { controller: number; agent?: number }> = {
      'single host': { controller: single.pid! },
      'one agent hop': { controller: hopController.pid!, agent: hopAgent.pid! },
      'hop, WebSocket stream': { controller: controller.pid!, agent: agent.pid! },
    };
    const mibPerS = Object.fromEntries(SIDES.map((s) => [s, [] as number[]])) as Record<Side, number[]>;
    const cpu = Object.fromEntries(SIDES.map((s) => [s, { controller: [] as number[], agent: [] as number[] }])) as Record<Side, { controller: number[]; agent: number[] }>;
    for (const { side } of alternatedOrder<Side>(SIDES, ROUNDS)) {
      const pids = Object.entries(processes[side]) as Array<['controller' | 'agent', number]>;
      const before = await Promise.all(pids.map(([, pid]) => quietTree(pid)));
      const r = await runJson<{ seconds: number; bytes: number; complete: boolean }>(['fetch', `ws://127.0.0.1:${port[side]}/?target=stream`, String(bytes)]);
      if (!r.complete) throw new Error(`the ${side} stream was cut short at ${r.bytes} bytes`);
      const mib = r.bytes / 1024 / 1024;
      mibPerS[side].push(mib / r.seconds);
      for (const [i, [k, pid]] of pids.entries()) cpu[side][k].push((((await quietTree(pid)) - before[i]!) * 1000) / mib);
    }
    const echo = Object.fromEntries(SIDES.map((s) => [s, [] as number[]])) as Record<Side, number[]>;
    for (const side of SIDES) echo[side] = (await runJson<{ rttMs: number[] }>(['echo', `ws://127.0.0.1:${port[side]}/?target=echo`, String(ECHOES)])).rttMs;
    const throughput = median(pairedRatios(mibPerS['one agent hop'], mibPerS['single host']));
    const row = (path: string, side: Side) => ({
      path,
      'MiB/s': round(median(mibPerS[side]), 1),
      'controller cpu ms/MiB': round(median(cpu[side].controller), 2),
      'agent cpu ms/MiB': cpu[side].agent.length ? round(median(cpu[side].agent), 2) : '',
      'p50 rtt ms': round(median(echo[side]), 3),
      'p99 rtt ms': round(p99(echo[side]), 3),
    });
    const rows: Array<Record<string, string | number>> = [
      row('single host (native relay)', 'single host'),
      row('one agent hop (native relay + native hop, TLS in OpenSSL)', 'one agent hop'),
      row('one agent hop without the native hop (Node pipe, TLS WebSocket)', 'hop, WebSocket stream'),
      {
        path: 'ratio native hop/single',
        'MiB/s': round(throughput, 2),
        'controller cpu ms/MiB': round(median(cpu['one agent hop'].controller) / median(cpu['single host'].controller), 2),
        'agent cpu ms/MiB': '',
        'p50 rtt ms': round(median(echo['one agent hop']) / median(echo['single host']), 2),
        'p99 rtt ms': round(p99(echo['one agent hop']) / p99(echo['single host']), 2),
      },
      { path: 'ratio WebSocket stream/single', 'MiB/s': round(median(pairedRatios(mibPerS['hop, WebSocket stream'], mibPerS['single host'])), 2), 'controller cpu ms/MiB': '', 'agent cpu ms/MiB': '', 'p50 rtt ms': '', 'p99 rtt ms': '' },
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
