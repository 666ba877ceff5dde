// Display gateway vs Debian's websockify on the same stream, alternated in one run (A B A B …).
// Separate processes: a unix-socket source (VNC stand-in), the proxy (Ardesia's display pipe, or
// websockify --unix-target), and a ws client. Measured: throughput of a STREAM_MIB stream, proxy CPU
// time per MiB (websockify forks per connection: its children's time is counted from /proc), and the
// latency the proxy adds to small echoed messages over a direct unix socket (p99).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alternatedOrder, median, pairedRatios, round } from './lib/stats.js';

const STREAM_MIB = 256;
const ROUNDS = 3;
const ECHOES = 2000;
const PEER = join(import.meta.dirname, 'display-gateway-peer.js');
const CLOCK_TICKS = 100;
type Side = 'ardesia' | 'websockify';

export function startProcess(cmd: string, args: string[], readyText?: string, cwd?: string): Promise<ChildProcess> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
  let out = '';
  return new Promise((ok, fail) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      if (!readyText || out.includes(readyText)) ok(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => fail(new Error(`${cmd} exited (${code}) before it was ready: ${out}`)));
  });
}

export function runJson<T>(args: string[]): Promise<T> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [PEER, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => (code === 0 ? ok(JSON.parse(out) as T) : fail(new Error(`${args[0]} failed (${code}): ${out}`))));
  });
}

interface ProcStat { ppid: number; state: string; cpuTicks: number }

function procStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ": state ppid … utime(14) stime(15) cutime(16) cstime(17), 1-based over the whole line.
    return { state: rest[0]!, ppid: Number(rest[1]), cpuTicks: Number(rest[11]) + Number(rest[12]) + Number(rest[13]) + Number(rest[14]) };
  } catch {
    return undefined;
  }
}

/** CPU seconds of a process, its reaped children, and every live (or zombie) descendant. */
function treeCpuSeconds(root: number): { seconds: number; liveDescendants: number } {
  const stats = new Map<number, ProcStat>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const s = procStat(Number(e));
    if (s) stats.set(Number(e), s);
  }
  let ticks = 0;
  let live = 0;
  const walk = (pid: number, depth: number) => {
    const s = stats.get(pid);
    if (!s) return;
    ticks += s.cpuTicks;
    if (depth > 0 && s.state !== 'Z') live++;
    for (const [child, cs] of stats) if (cs.ppid === pid) walk(child, depth + 1);
  };
  walk(root, 0);
  return { seconds: ticks / CLOCK_TICKS, liveDescendants: live };
}

export async function quietTree(pid: number): Promise<number> {
  for (let i = 0; i < 50 && treeCpuSeconds(pid).liveDescendants > 0; i++) await new Promise((r) => setTimeout(r, 100));
  return treeCpuSeconds(pid).seconds;
}

export const p99 = (v: number[]) => [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(v.length * 0.99))]!;

export async function run(): Promise<{ name: string; rows: Array<Record<string, string | number>>; notes?: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'dgb-'));
  const children: ChildProcess[] = [];
  try {
    const bytes = STREAM_MIB * 1024 * 1024;
    children.push(await startProcess(process.execPath, [PEER, 'source', dir, String(bytes)], 'ready'));
    const ours = await startProcess(process.execPath, [PEER, 'proxy', '18931', dir], 'ready');
    children.push(ours);
    const wsStream = await startProcess('websockify', [`--unix-target=${join(dir, 'stream.sock')}`, '127.0.0.1:18932'], 'Listen on');
    const wsEcho = await startProcess('websockify', [`--unix-target=${join(dir, 'echo.sock')}`, '127.0.0.1:18933'], 'Listen on');
    children.push(wsStream, wsEcho);
    const url = { ardesia: 'ws://127.0.0.1:18931/?target=stream', websockify: 'ws://127.0.0.1:18932/' };
    const echoUrl = { ardesia: 'ws://127.0.0.1:18931/?target=echo', websockify: 'ws://127.0.0.1:18933/' };
    const pid = { ardesia: ours.pid!, websockify: wsStream.pid! };
    const mibPerS: Record<Side, number[]> = { ardesia: [], websockify: [] };
    const cpuMsPerMiB: Record<Side, number[]> = { ardesia: [], websockify: [] };
    const incomplete: Record<Side, number> = { ardesia: 0, websockify: 0 };
    for (const { side } of alternatedOrder<Side>(['ardesia', 'websockify'], ROUNDS)) {
      const cpuBefore = await quietTree(pid[side]);
      const r = await runJson<{ seconds: number; bytes: number; complete: boolean }>(['fetch', url[side], String(bytes)]);
      const cpu = (await quietTree(pid[side])) - cpuBefore;
      if (!r.complete) incomplete[side]++;
      const mib = r.bytes / 1024 / 1024;
      mibPerS[side].push(mib / r.seconds);
      cpuMsPerMiB[side].push((cpu * 1000) / mib);
    }
    const direct = await runJson<{ rttMs: number[] }>(['direct', dir, String(ECHOES)]);
    const echo: Record<Side, number[]> = { ardesia: [], websockify: [] };
    for (const side of ['ardesia', 'websockify'] as const) echo[side] = (await runJson<{ rttMs: number[] }>(['echo', echoUrl[side], String(ECHOES)])).rttMs;
    const rows: Array<Record<string, string | number>> = (['ardesia', 'websockify'] as const).map((side) => ({
      proxy: side,
      'MiB/s': round(median(mibPerS[side]), 1),
      'cpu ms/MiB': round(median(cpuMsPerMiB[side]), 2),
      'p50 rtt ms': round(median(echo[side]), 3),
      'p99 rtt ms': round(p99(echo[side]), 3),
      'p99 added ms': round(p99(echo[side]) - p99(direct.rttMs), 3),
      'streams cut short': `${incomplete[side]}/${ROUNDS}`,
    }));
    const throughput = median(pairedRatios(mibPerS.ardesia, mibPerS.websockify));
    const cpuRatio = median(pairedRatios(cpuMsPerMiB.ardesia, cpuMsPerMiB.websockify));
    const added = p99(echo.ardesia) - p99(direct.rttMs);
    rows.push({
      proxy: 'ratio ardesia/websockify',
      'MiB/s': round(throughput, 2),
      'cpu ms/MiB': round(cpuRatio, 2),
      'p50 rtt ms': round(median(echo.ardesia) / median(echo.websockify), 2),
      'p99 rtt ms': round(p99(echo.ardesia) / p99(echo.websockify), 2),
      'p99 added ms': round(added, 3),
      'streams cut short': '',
    });
    return {
      name: 'display-gateway',
      rows,
      notes: [
        `${STREAM_MIB} MiB stream × ${ROUNDS} rounds each, alternated; ${ECHOES} echoes of 64 bytes; direct unix-socket p99 ${round(p99(direct.rttMs), 3)} ms`,
        `targets: throughput ratio ≥ 1 (${throughput >= 1 ? 'met' : 'MISSED'}), CPU/MiB ratio ≤ 0.8 (${cpuRatio <= 0.8 ? 'met' : 'MISSED'}), p99 added ≤ 1 ms (${added <= 1 ? 'met' : 'MISSED'})`,
      ],
    };
  } finally {
    for (const c of children) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
