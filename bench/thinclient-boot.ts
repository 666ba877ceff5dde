// thinclient-boot: a BIOS thin client (qemu-system-x86_64, TCG, 1 GiB, virtio-gpu, virtio-net) from power-on to
// the portal's login page on its screen, each stage timed in seconds since QEMU started. Two kinds of boot from
// the same amd64 OS files and the same daemon (`ardesia serve --netboot`, full-mode DHCP on 10.250.30.0/24 in a
// lab namespace), alternated A B A B: PXE (QEMU's iPXE ROM → DHCP → per-MAC script → kernel + initrd over HTTP)
// and a baseline without the network boot chain (QEMU -kernel/-initrd with the manifest's command line), so
// everything after the kernel is identical. Figure of merit: baseline / PXE time to the login page (≤ 1); also
// baseline / PXE time to the kernel's init, the chain's cost without the kiosk's page-load noise.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { QmpClient } from '../src/hypervisor/qmp/client.js';
import { osFolder } from '../src/netboot/http/manifest.js';
import { REPO_ROOT } from '../test/helpers/daemon.js';
import { NetLab } from '../test/netboot/lab.js';
import { type LabDaemon, looksLikeLoginPage, serconFile, stageThinClientOs, startLabDaemon } from '../test/thinclient-os/netboot-support.js';
import { decodePng } from '../test/thinclient-os/png.js';
import type { Benchmark, BenchResult, BenchRow } from './lib/benchmark.js';
import { waitGone } from './lib/host.js';
import { alternatedOrder, median, pairedRatios, summarize } from './lib/stats.js';

const SERVER_IP = '10.250.30.1';
const DEFAULT_ROUNDS = 2;
const BOOT_TIMEOUT_MS = 600_000;
/** How often the serial file and the daemon's log are read for new stages (the stage times' resolution). */
const POLL_MS = 200;
/** How often the screen is dumped once the kiosk has started (before that the login page cannot be on it). */
const SCREEN_POLL_MS = 1000;

export type BootKind = 'pxe' | 'baseline';

export interface StageDef {
  key: string;
  label: string;
  /** Where the stage shows: the thin client's serial console, the daemon's log, or its screen. */
  source: 'serial' | 'daemon' | 'screen';
  /** Serial stages: the line that marks it; daemon stages: the entry's `reason`, if it matters. */
  re?: RegExp;
  /** Daemon stages: the pino entry's `event`, logged for this client's MAC. */
  event?: string;
  pxeOnly: boolean;
}

/** Every stage of a boot in the order they come; the baseline has those from `init` on. */
export const STAGES: readonly StageDef[] = [
  { key: 'ipxe', label: 'iPXE ROM up', source: 'serial', re: /iPXE \(PCI [^)]*\) starting execution/, pxeOnly: true },
  { key: 'offer', label: 'DHCP OFFER sent (daemon log)', source: 'daemon', event: 'dhcp-reply', re: /^OFFER /, pxeOnly: true },
  { key: 'ack', label: 'DHCP ACK sent (daemon log)', source: 'daemon', event: 'dhcp-reply', re: /^ACK /, pxeOnly: true },
  { key: 'dhcp-ipxe', label: 'iPXE DHCP done (Filename:)', source: 'serial', re: /Filename: http:\/\/\S+\/boot\/ipxe\?mac=/, pxeOnly: true },
  { key: 'script', label: 'boot script fetched (daemon log)', source: 'daemon', event: 'boot-script', pxeOnly: true },
  { key: 'kernel', label: 'kernel + initrd loaded', source: 'serial', re: /boot\/files\/amd64\/initrd\.img\.\.\.[^\n]* ok/, pxeOnly: true },
  { key: 'init', label: 'ARDESIA-TC init', source: 'serial', re: /ARDESIA-TC stage=init /, pxeOnly: false },
  { key: 'dhcp', label: 'ARDESIA-TC dhcp ok', source: 'serial', re: /ARDESIA-TC stage=dhcp ok /, pxeOnly: false },
  { key: 'root', label: 'ARDESIA-TC root fetched', source: 'serial', re: /ARDESIA-TC stage=root fetched /, pxeOnly: false },
  { key: 'config', label: 'ARDESIA-TC config', source: 'serial', re: /ARDESIA-TC stage=config /, pxeOnly: false },
  { key: 'kiosk', label: 'ARDESIA-TC kiosk start', source: 'serial', re: /ARDESIA-TC stage=kiosk start=/, pxeOnly: false },
  { key: 'login', label: 'login page on screen', source: 'screen', pxeOnly: false },
];

export const stagesOf = (kind: BootKind) => STAGES.filter((s) => kind === 'pxe' || !s.pxeOnly);

/** Seconds since QEMU started at which each stage was first seen. */
export type StageTimes = Record<string, number>;

/** Marks the serial stages first visible in `serial` at `seconds` (pure: returns a new record). */
export function markSerialStages(kind: BootKind, serial: string, seconds: number, reached: StageTimes): StageTimes {
  const next = { ...reached };
  for (const s of stagesOf(kind)) if (s.source === 'serial' && next[s.key] === undefined && s.re!.test(serial)) next[s.key] = seconds;
  return next;
}

interface DaemonEntry { event?: string; mac?: string; reason?: string; time?: number | string }

function parsedEntry(line: string): DaemonEntry | undefined {
  try {
    return JSON.parse(line) as DaemonEntry;
  } catch {
    return undefined; // the last line may still be arriving
  }
}

/** Marks the daemon stages logged for `mac` (pino JSON lines), in seconds from `startedAtMs` by the entries' own time (pure). */
export function markDaemonStages(kind: BootKind, daemonLog: string, mac: string, startedAtMs: number, reached: StageTimes): StageTimes {
  const next = { ...reached };
  const pending = stagesOf(kind).filter((s) => s.source === 'daemon' && next[s.key] === undefined);
  if (pending.length === 0) return next;
  for (const line of daemonLog.split('\n')) {
    // The DHCP reply names the MAC only in its reason; the boot script in its own field.
    if (!line.startsWith('{') || !line.includes(mac)) continue;
    const entry = parsedEntry(line);
    if (entry?.time === undefined) continue;
    const at = typeof entry.time === 'number' ? entry.time : Date.parse(entry.time);
    for (const s of pending) {
      if (next[s.key] === undefined && entry.event === s.event && (!s.re || s.re.test(entry.reason ?? ''))) next[s.key] = (at - startedAtMs) / 1000;
    }
  }
  return next;
}

/** `--rounds N` from the bench's argv (npm run bench -- thinclient-boot --rounds 3), DEFAULT_ROUNDS without it. */
export function roundsFromArgs(argv: readonly string[]): number {
  const i = argv.indexOf('--rounds');
  if (i < 0) return DEFAULT_ROUNDS;
  const n = Number(argv[i + 1]);
  if (!Number.isInteger(n) || n < 1 || n > 20) throw new Error(`--rounds wants a whole number from 1 to 20, not ${argv[i + 1]}`);
  return n;
}

/** A fresh MAC per boot (the inventory sees a new client each time): 52:54:00:1e:<round>:<kind>. */
export function bootMac(round: number, kind: BootKind): string {
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return `52:54:00:1e:${hex(round & 0xff)}:${kind === 'pxe' ? '01' : '02'}`;
}

interface Lab {
  /** Everything on disk: the data dir, and one folder per boot (removed with it). */
  dir: string;
  lab: NetLab;
  daemon: LabDaemon;
  dataDir: string;
  sercon: string;
}

/** The QEMU argv of one boot: the same PC either way; PXE boots its NIC's iPXE ROM, the baseline the OS files directly. */
export function qemuArgs(kind: BootKind, mac: string, paths: { sercon: string; serial: string; qmp: string; osDir: string; kernelCmdline: string }): string[] {
  const boot = kind === 'pxe'
    ? ['-boot', 'n']
    : ['-kernel', join(paths.osDir, 'vmlinuz'), '-initrd', join(paths.osDir, 'initrd.img'),
      '-append', `${paths.kernelCmdline} ardesia.server=http://${SERVER_IP}:8080 ardesia.mac=${mac}`];
  return [
    // tb-size as the thin-client tests run it: 128 MiB of TCG code cache instead of the 1 GiB default reservation.
    '-accel', 'tcg,tb-size=128', '-m', '1024', '-smp', '1', '-nodefaults', '-vga', 'virtio', '-display', 'none', '-no-reboot', ...boot,
    '-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no', '-device', `virtio-net-pci,netdev=n0,mac=${mac}`,
    '-fw_cfg', `name=etc/sercon-port,file=${paths.sercon}`, '-serial', `file:${paths.serial}`, '-qmp', `unix:${paths.qmp},server=on,wait=off`,
  ];
}

const readText = (path: string) => {
  try {
    return readFileSync(path, 'latin1').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
  } catch {
    return ''; // QEMU creates it once it runs
  }
};

class WebAppMissingError extends Error {
  constructor(path: string) {
    super(`${path} is missing: the kiosk would show "web app is not built" and no login page; run \`node web/build.mjs\` in ${REPO_ROOT} first`);
    this.name = 'WebAppMissingError';
  }
}

class BootFailedError extends Error {
  constructor(kind: BootKind, mac: string, why: string, reached: StageTimes, serialTail: string) {
    super(`${kind} boot of ${mac}: ${why}; stages reached ${JSON.stringify(reached)}\n--- serial (tail) ---\n${serialTail}`);
    this.name = 'BootFailedError';
  }
}

/** One boot from QEMU's start to the login page on its screen; QEMU is killed and its files removed in any case. */
async function bootOnce(env: Lab, kind: BootKind, mac: string, kernelCmdline: string): Promise<StageTimes> {
  const dir = mkdtempSync(join(env.dir, 'b-'));
  const serial = join(dir, 'serial');
  const qmpPath = join(dir, 'qmp');
  const png = join(dir, 'screen.png');
  const osDir = osFolder(env.dataDir, 'amd64');
  const startedAt = Date.now();
  const qemu: ChildProcess = env.lab.spawn(env.lab.hub, 'qemu-system-x86_64', qemuArgs(kind, mac, { sercon: env.sercon, serial, qmp: qmpPath, osDir, kernelCmdline }));
  let qemuErr = '';
  qemu.stderr!.on('data', (d: Buffer) => (qemuErr += d.toString()));
  let qmp: QmpClient | undefined;
  let reached: StageTimes = {};
  let lastScreenAt = 0;
  const fail = (why: string) => new BootFailedError(kind, mac, why, reached, readText(serial).slice(-2000));
  try {
    while (reached.login === undefined) {
      const seconds = (Date.now() - startedAt) / 1000;
      if (Date.now() - startedAt > BOOT_TIMEOUT_MS) throw fail(`no login page within ${BOOT_TIMEOUT_MS / 1000} s`);
      if (qemu.exitCode !== null) throw fail(`QEMU exited ${qemu.exitCode}: ${qemuErr.trim()}`);
      const text = readText(serial);
      if (/ARDESIA-TC FATAL/.test(text)) throw fail('the thin client stopped (FATAL)');
      reached = markSerialStages(kind, text, seconds, reached);
      reached = markDaemonStages(kind, env.daemon.log(), mac, startedAt, reached);
      if (reached.kiosk !== undefined && Date.now() - lastScreenAt >= SCREEN_POLL_MS) {
        lastScreenAt = Date.now();
        qmp ??= await QmpClient.connect(qmpPath);
        await qmp.screendump(png, 'png');
        if (looksLikeLoginPage(decodePng(readFileSync(png)))) reached = { ...reached, login: (Date.now() - startedAt) / 1000 };
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    return reached;
  } finally {
    await qmp?.close().catch(() => undefined);
    qemu.kill('SIGKILL');
    // `ip netns exec` execs QEMU in place, so this pid is QEMU's: the tap is free for the next boot once it is gone.
    if (qemu.pid !== undefined) await waitGone(qemu.pid);
    rmSync(dir, { recursive: true, force: true });
  }
}

function row(label: string, values: number[], unit: BenchRow['unit'] = 'ms'): BenchRow {
  return { label, unit, ...summarize(values) };
}

/** Per-stage rows for one kind (ms since QEMU started), only stages every boot of that kind reached. */
function stageRows(kind: BootKind, boots: StageTimes[]): BenchRow[] {
  return stagesOf(kind)
    .filter((s) => boots.every((b) => b[s.key] !== undefined))
    .map((s) => row(`${kind === 'pxe' ? 'PXE' : 'baseline -kernel'}: ${s.label}`, boots.map((b) => b[s.key]! * 1000)));
}

async function labUp(dir: string): Promise<Lab> {
  const dataDir = join(dir, 'data');
  await stageThinClientOs(dir, dataDir, ['amd64']);
  const lab = await NetLab.create('c');
  try {
    const srv = await lab.addHost('srv', `${SERVER_IP}/24`);
    await lab.addTap('tap0');
    const daemon = await startLabDaemon(lab, srv, dir, dataDir, SERVER_IP,
      ['interfaces:', `  - address: ${SERVER_IP}`, '    mode: full', '    subnetMask: 255.255.255.0', '    ranges: [{ start: 10.250.30.100, end: 10.250.30.199 }]']);
    return { dir, lab, daemon, dataDir, sercon: serconFile(dir) };
  } catch (err) {
    await lab.destroy();
    throw err;
  }
}

export const thinClientBootBenchmark: Benchmark = {
  name: 'thinclient-boot',
  summary: `BIOS thin client, power-on → login page on screen, stage by stage: PXE vs -kernel/-initrd of the same OS, alternated, ${DEFAULT_ROUNDS} rounds unless --rounds N`,
  async run(ctx): Promise<BenchResult> {
    const rounds = roundsFromArgs(process.argv);
    // tsc alone builds no web app (npm run build does): without it every boot would wait out its timeout.
    const webIndex = join(REPO_ROOT, 'dist', 'web', 'index.html');
    if (!existsSync(webIndex)) throw new WebAppMissingError(webIndex);
    const dir = mkdtempSync('/tmp/tcb-');
    let env: Lab | undefined;
    const teardown = async () => {
      env?.daemon.proc.kill('SIGTERM');
      if (env) await new Promise((r) => setTimeout(r, 500)); // a clean daemon exit first; destroy() SIGKILLs what is left
      await env?.lab.destroy();
      rmSync(dir, { recursive: true, force: true });
    };
    // Ctrl-C during a boot of several minutes must not leave the lab's namespaces, daemon and QEMU behind.
    const interrupted = () => void teardown().finally(() => process.exit(130));
    process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
    try {
      env = await labUp(dir);
      const manifest = JSON.parse(readFileSync(join(osFolder(env.dataDir, 'amd64'), 'manifest.json'), 'utf8')) as { kernelCmdline: string; version: string };
      const boots: Record<BootKind, StageTimes[]> = { pxe: [], baseline: [] };
      for (const { round, side } of alternatedOrder<BootKind>(['pxe', 'baseline'], rounds)) {
        const mac = bootMac(round, side);
        // PXE registers its client with the boot script; the baseline's is added first so its config fetch is the same.
        if (side === 'baseline') await env.daemon.api.request('POST', '/v1/thinclients', { mac });
        const times = await bootOnce(env, side, mac, manifest.kernelCmdline);
        boots[side].push(times);
        ctx.log(`thinclient-boot round ${round + 1}/${rounds} ${side}: ${stagesOf(side).map((s) => `${s.key} ${times[s.key]?.toFixed(1) ?? '-'}`).join(', ')} s`);
      }
      const at = (kind: BootKind, key: string) => boots[kind].map((b) => b[key]!);
      const ratios = pairedRatios(at('baseline', 'login'), at('pxe', 'login'));
      // The kernel starting is the chain's whole cost without the kiosk's noise (its page load varies by tens of seconds).
      const initRatios = pairedRatios(at('baseline', 'init'), at('pxe', 'init'));
      return {
        name: 'thinclient-boot',
        rows: [...stageRows('pxe', boots.pxe), ...stageRows('baseline', boots.baseline), row('ratio baseline / PXE, login page (paired per round)', ratios, 'ratio'),
          row('ratio baseline / PXE, ARDESIA-TC init (paired per round)', initRatios, 'ratio')],
        verdicts: [],
        details: { rounds, medianRatio: median(ratios), osVersion: manifest.version, kernelCmdline: manifest.kernelCmdline, samplesSeconds: boots,
          pollMs: POLL_MS, screenPollMs: SCREEN_POLL_MS, qemu: qemuArgs('pxe', '<MAC>', { sercon: '<SERCON>', serial: '<SERIAL>', qmp: '<QMP>', osDir: '<OS>', kernelCmdline: '' }) },
      };
    } finally {
      process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
      await teardown();
    }
  },
};
