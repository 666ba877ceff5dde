// The baseline: the same QEMU command line the daemon would run, started by hand — spawn, QMP
// (raw JSON lines: qmp_capabilities, then cont), the serial socket, and the banner.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import type { VmSpec } from '../../src/contract/vm.js';
import { buildQemuLaunch, DEBIAN_FIRMWARE, type QemuLaunch, runtimePaths } from '../../src/hypervisor/qemu/argv.js';
import { closeHandedFds, openHandedFiles, qemuCommand, readPidfile, writeLaunchFiles } from '../../src/hypervisor/qemu/process.js';
import { RawQmp } from '../../test/qemu-argv/raw-qmp.js';
import { BannerTimeoutError, BannerWatch } from './banner.js';
import { waitGone } from './host.js';

/** Milliseconds from the spawn of QEMU to each step (launcherExited: its QMP socket exists). */
export interface RawBootTiming {
  launcherExitedMs: number;
  qmpReadyMs: number;
  serialConnectedMs: number;
  contAckedMs: number;
  bannerMs: number;
}

export interface RawQemuVm {
  pid: number;
  argv: string[];
  timing: RawBootTiming;
  stop(): Promise<void>;
}

export class RawQemuError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RawQemuError';
  }
}

/**
 * Runs QEMU as the daemon does (its own session, the handed files as fds 3, 4, …; not as another account)
 * and resolves once its QMP socket exists (the guest runs on in the background).
 */
export async function rawSpawn(launch: QemuLaunch, qmpPath: string): Promise<void> {
  const fds = openHandedFiles('raw', launch.handed);
  let stderr = '';
  let exited: string | undefined;
  try {
    const [command, ...args] = qemuCommand(launch.binary, launch.args, launch.handed, undefined);
    const child = spawn(command!, args, { detached: true, stdio: ['ignore', 'ignore', 'pipe', ...fds.map((fd) => fd ?? 'ignore')] });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (err) => (exited = err.message));
    child.once('exit', (code) => (exited = `exit code ${code}`));
    child.unref();
    (child.stderr as unknown as { unref?: () => void }).unref?.();
  } finally {
    closeHandedFds(fds);
  }
  while (!existsSync(qmpPath)) {
    if (exited !== undefined) throw new RawQemuError(`QEMU ended (${exited}): ${stderr.trim()}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function connectSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** The argv QEMU would get for this spec in this runtime folder (accel tcg, Debian firmware). */
export function rawLaunch(spec: VmSpec, runtimeDir: string): ReturnType<typeof buildQemuLaunch> {
  return buildQemuLaunch(spec, { paths: runtimePaths(runtimeDir), accel: 'tcg', firmware: DEBIAN_FIRMWARE, bootKind: 'kernel' });
}

/** Boots the spec by hand in runtimeDir (must exist) and resolves once the banner is on the serial console. */
export async function rawQemuBoot(spec: VmSpec, runtimeDir: string, banner: string, timeoutMs = 120_000): Promise<RawQemuVm> {
  const paths = runtimePaths(runtimeDir);
  const launch = rawLaunch(spec, runtimeDir);
  writeLaunchFiles(launch.files, undefined);
  const t0 = performance.now();
  const since = () => performance.now() - t0;
  await rawSpawn(launch, paths.qmp);
  const launcherExitedMs = since();
  const pid = readPidfile(paths.pidfile);
  if (pid === undefined) throw new RawQemuError(`QEMU wrote no pidfile at ${paths.pidfile}`);
  let qmp: RawQmp | undefined;
  let serial: Socket | undefined;
  const stop = async () => {
    serial?.destroy();
    await qmp?.execute('quit').catch(() => undefined);
    qmp?.close();
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // quit already ended it
    }
    await waitGone(pid);
  };
  try {
    qmp = (await RawQmp.open(paths.qmp)).qmp;
    await qmp.execute('qmp_capabilities');
    const qmpReadyMs = since();
    serial = await connectSocket(paths.serial);
    const serialConnectedMs = since();
    const watch = new BannerWatch(banner);
    const seen = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new BannerTimeoutError(`the serial socket of pid ${pid}`, timeoutMs)), timeoutMs);
      serial!.on('data', (chunk: Buffer) => {
        if (watch.feed(chunk)) {
          clearTimeout(timer);
          resolve(since());
        }
      });
    });
    const reply = await qmp.execute('cont');
    if (!('return' in reply)) throw new RawQemuError(`cont failed: ${JSON.stringify(reply)}`);
    const contAckedMs = since();
    const bannerMs = await seen;
    return { pid, argv: [launch.binary, ...launch.args], timing: { launcherExitedMs, qmpReadyMs, serialConnectedMs, contAckedMs, bannerMs }, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
