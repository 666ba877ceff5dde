// TFTP throughput: a 30 MiB file, blksize 1468, to 10 busybox clients at once, from Ardesia's
// TFTP server and from dnsmasq's on the same machine, alternated in one run (A B A B …) so that
// drift on a shared host cancels. Runs inside throw-away network namespaces (10.250.6.0/24).
// Figure of merit: ratio = dnsmasq time / Ardesia time for the same round (≥ 1.0: as fast or faster).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NetLab } from '../test/netboot/lab.js';
import { alternatedOrder, median, pairedRatios, round, summarize } from './lib/stats.js';

const pexec = promisify(execFile);
const FILE_MIB = 30;
const CLIENTS = 10;
const BLKSIZE = 1468;
const ROUNDS = 3;
const OURS = '10.250.6.1';
const DNSMASQ = '10.250.6.2';
type Side = 'ardesia' | 'dnsmasq';

/** Seconds for CLIENTS parallel busybox fetches of the file from `server`; fails if any fails. */
async function fetchAll(lab: NetLab, server: string): Promise<number> {
  const script = `for i in $(seq ${CLIENTS}); do busybox tftp -g -b ${BLKSIZE} -r big.bin -l /dev/null ${server} & done; fail=0; for j in $(seq ${CLIENTS}); do wait -n || fail=1; done; exit $fail`;
  const started = process.hrtime.bigint();
  await pexec('ip', ['netns', 'exec', lab.ns('cli'), 'bash', '-c', script], { timeout: 600_000 });
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function waitForPort(lab: NetLab, server: string): Promise<void> {
  for (let i = 0; i < 15; i++) {
    try {
      await pexec('ip', ['netns', 'exec', lab.ns('cli'), 'busybox', 'tftp', '-g', '-r', 'probe.txt', '-l', '/dev/null', server], { timeout: 2000 });
      return;
    } catch { await new Promise((r) => setTimeout(r, 200)); }
  }
  throw new Error(`TFTP server ${server} did not answer`);
}

export async function run(): Promise<{ name: string; rows: Array<Record<string, string | number>>; notes?: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'nbb-'));
  let lab: NetLab | undefined;
  let dnsmasq: ChildProcess | undefined;
  try {
    writeFileSync(join(dir, 'big.bin'), randomBytes(FILE_MIB * 1024 * 1024));
    writeFileSync(join(dir, 'probe.txt'), 'ok\n');
    lab = await NetLab.create('b');
    const srv = await lab.addHost('srv', `${OURS}/24`);
    await pexec('ip', ['-n', srv, 'addr', 'add', `${DNSMASQ}/24`, 'dev', 'eth0']);
    await lab.addHost('cli', '10.250.6.10/24');
    // All clients share one address here, so the per-client cap is raised to the client count (as dnsmasq's --tftp-max).
    const ours = await lab.startServer(srv, ['--interface', OURS, '--root', dir, '--no-dhcp', '--max-blksize', String(BLKSIZE), '--tftp-per-client', String(CLIENTS)]);
    await ours.waitFor((e) => e.event === 'ready');
    dnsmasq = spawn('ip', ['netns', 'exec', srv, '/usr/sbin/dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--enable-tftp',
      `--tftp-root=${dir}`, `--listen-address=${DNSMASQ}`, '--bind-interfaces', '--tftp-max=100', '--user=root'], { stdio: 'ignore' });
    await waitForPort(lab, OURS);
    await waitForPort(lab, DNSMASQ);
    const times: Record<Side, number[]> = { ardesia: [], dnsmasq: [] };
    for (const { side } of alternatedOrder<Side>(['ardesia', 'dnsmasq'], ROUNDS)) times[side].push(await fetchAll(lab, side === 'ardesia' ? OURS : DNSMASQ));
    const ratios = pairedRatios(times.dnsmasq, times.ardesia);
    const totalMiB = FILE_MIB * CLIENTS;
    const rows: Array<Record<string, string | number>> = (['ardesia', 'dnsmasq'] as const).map((side) => {
      const s = summarize(times[side]);
      return { label: `${side}: ${CLIENTS} × ${FILE_MIB} MiB, blksize ${BLKSIZE}`, unit: 's', n: s.n, median: round(s.median), min: round(s.min), max: round(s.max), 'MiB/s (median)': round(totalMiB / s.median, 1) };
    });
    const ratio = round(median(ratios));
    // Which transfer path was measured: the native sender, or the TypeScript fallback if it is off or missing.
    const via = [...new Set(ours.events.filter((e) => e.event === 'tftp-start').map((e) => String(e.via)))].join(', ');
    rows.push({ label: 'ratio dnsmasq time / ardesia time (target ≥ 1.0)', unit: 'x', n: ratios.length, median: ratio, min: round(Math.min(...ratios)), max: round(Math.max(...ratios)), 'MiB/s (median)': '' });
    return {
      name: 'netboot-tftp',
      rows,
      notes: [`${ratio >= 1 ? 'MET' : 'MISSED'}: ratio ${ratio} (target ≥ 1.0)`, `clients: busybox tftp -b ${BLKSIZE}, ${CLIENTS} at once, in a network namespace over a veth pair and a bridge`, `ardesia transfers via: ${via}`, `dnsmasq ${(await pexec('/usr/sbin/dnsmasq', ['--version'])).stdout.split('\n')[0]}`],
    };
  } finally {
    dnsmasq?.kill('SIGKILL');
    await lab?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

// Run on its own: `node dist/bench/netboot-tftp.js`.
if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await run();
  console.log(JSON.stringify(result, null, 2));
}
