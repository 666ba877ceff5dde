// Runs the probe guest under QEMU once and classifies what happened. The one place that
// spawns QEMU for the probe; everything it decides is in probe-outcome.ts.
import { type ChildProcess, spawn } from 'node:child_process';
import { type FileHandle, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProbeImage, PROBE_DEBUG_EXIT_PORT, PROBE_OK_MARKER } from './probe-image.js';
import { classifyProbeRun, type ProbeOutcome } from './probe-outcome.js';
import { findQemuFirmware } from './qemu-info.js';

export const DEFAULT_PROBE_TIMEOUT_MS = 3000;
const PROBE_MEMORY_MIB = 32;
/** After a final marker or a KVM error, give QEMU this long to exit or print the rest. */
const SETTLE_MS = 300;
/** qboot reaches the kernel in ~50 ms where SeaBIOS's real-mode start can take seconds on a poor KVM. */
const FAST_FIRMWARE = 'qboot.rom';

export interface ProbeOptions {
  qemuBinary: string;
  accel: 'kvm' | 'tcg';
  timeoutMs?: number;
}

export interface ProbeResult extends ProbeOutcome {
  ms: number;
  serial: string;
  stderr: string;
  argv: string[];
}

export function probeArgv(accel: 'kvm' | 'tcg', imagePath: string, firmware: string | null): string[] {
  return [
    '-M', 'pc', ...(firmware ? ['-bios', firmware] : []),
    '-accel', accel, '-nodefaults', '-display', 'none', '-no-reboot', '-m', String(PROBE_MEMORY_MIB),
    '-device', `isa-debug-exit,iobase=${PROBE_DEBUG_EXIT_PORT},iosize=0x04`,
    '-serial', 'stdio', '-kernel', imagePath,
  ];
}

/** Starts the probe guest under the given accelerator; never throws for a guest failure. */
export async function runProbe(opts: ProbeOptions): Promise<ProbeResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  // The image is opened and its folder removed before QEMU starts: it reads it as its fd 3, and a process killed
  // during the probe (a daemon's start cut short) leaves nothing in /tmp.
  const dir = await mkdtemp(join(tmpdir(), 'ardp-'));
  let image: FileHandle;
  try {
    await writeFile(join(dir, 'probe.bin'), buildProbeImage());
    image = await open(join(dir, 'probe.bin'), 'r');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  try {
    const argv = probeArgv(opts.accel, `/proc/self/fd/${PROBE_IMAGE_FD}`, await findQemuFirmware(opts.qemuBinary, FAST_FIRMWARE));
    return { ...(await spawnProbe(opts.qemuBinary, argv, timeoutMs, image.fd)), argv };
  } finally {
    await image.close();
  }
}

/** The probe image's descriptor in QEMU (after stdin, stdout and stderr). */
const PROBE_IMAGE_FD = 3;

// A probe QEMU that KVM stopped stays paused forever: never let one outlive this process.
const liveProbes = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveProbes) child.kill('SIGKILL');
});

function spawnProbe(binary: string, argv: string[], timeoutMs: number, imageFd: number): Promise<Omit<ProbeResult, 'argv'>> {
  return new Promise((resolve) => {
    const started = Date.now();
    // setpriv --pdeathsig: a probe paused by KVM outlives a daemon killed with SIGKILL otherwise (no exit handler runs).
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', binary, ...argv], { stdio: ['ignore', 'pipe', 'pipe', imageFd] });
    liveProbes.add(child);
    child.once('exit', () => liveProbes.delete(child));
    // Piped above: a fourth descriptor in stdio loses spawn's typing of the first three.
    const [stdout, stderrPipe] = [child.stdout!, child.stderr!];
    let serial = '';
    let stderr = '';
    let timedOut = false;
    let settleTimer: NodeJS.Timeout | undefined;
    let finished = false;
    const kill = () => child.kill('SIGKILL');
    const settleThenKill = () => { settleTimer ??= setTimeout(kill, SETTLE_MS); };
    const timeout = setTimeout(() => { timedOut = true; kill(); }, timeoutMs);
    stdout.setEncoding('utf8').on('data', (chunk: string) => {
      serial += chunk;
      if (serial.includes(PROBE_OK_MARKER)) settleThenKill();
    });
    stderrPipe.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.includes('KVM internal error')) settleThenKill(); // QEMU pauses the VM and stays
    });
    const finish = (exit: { code: number | null; signal: string | null } | null, spawnError?: Error) => {
      if (finished) return; // 'error' and 'close' can both fire
      finished = true;
      clearTimeout(timeout);
      clearTimeout(settleTimer);
      const ms = Date.now() - started;
      if (spawnError) stderr += `${spawnError.message}\n`;
      const outcome = classifyProbeRun({ serial, stderr, exit, timedOut, timeoutMs });
      resolve({ ...outcome, ms, serial, stderr });
    };
    child.on('error', (err) => finish({ code: null, signal: null }, err));
    child.on('close', (code, signal) => finish({ code, signal }));
  });
}
