// Shared parts of the thin-client netboot tests (netboot-login: BIOS, full mode; netboot-uefi-proxy: UEFI,
// proxy mode): the thin-client OS staged in a data dir, `ardesia serve --netboot` in a lab namespace, the
// thin client's serial console read stage by stage, and what the portal's pages look like on its screen.
import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { ApiClient } from '../../src/cli/client.js';
import { ardesiaCaPem, serverCertificateEnsure } from '../../src/tls/certs.js';
import type { QmpClient } from '../../src/hypervisor/qmp/client.js';
import { buildThinClientOs } from '../../src/thinclients/os/build.js';
import type { ThinClientArch } from '../../src/thinclients/os/plan.js';
import { CLI, until } from '../helpers/daemon.js';
import { type NetLab, REPO } from '../netboot/lab.js';
import { type DecodedPng, decodePng, dominantColour } from './png.js';

/** Builds the thin-client OS of each of `arches` (cached in .cache/thinclient) with the data folder's CA baked in, as
 *  `ardesia thinclient build` does after the daemon's first start made it, and installs it as `dataDir`/thinclient/current-<arch>.
 *  Returns the CA's SHA-256 fingerprint. */
export async function stageThinClientOs(dir: string, dataDir: string, arches: readonly ThinClientArch[] = ['amd64']): Promise<string> {
  // The CA is made once per data folder; the daemon started later re-issues its server certificate (same CA) for its address.
  await serverCertificateEnsure(dataDir, 'localhost');
  const portalCaPem = ardesiaCaPem(dataDir)!;
  for (const arch of arches) {
    const os = join(dir, `os-${arch}`);
    await buildThinClientOs({ arch, outDir: os, cacheDir: join(REPO, '.cache', 'thinclient'), portalCaPem });
    mkdirSync(join(dataDir, 'thinclient'), { recursive: true });
    cpSync(os, join(dataDir, 'thinclient', `current-${arch}`), { recursive: true });
  }
  return new X509Certificate(portalCaPem).fingerprint256;
}

export interface LabDaemon {
  proc: ChildProcess;
  /** Everything the daemon wrote so far (stdout and stderr, pino JSON lines). */
  log(): string;
  api: ApiClient;
}

/** `ardesia serve --netboot` in namespace `ns`, listening on `serverIp`:8080 with the given netboot YAML lines. */
export async function startLabDaemon(lab: NetLab, ns: string, dir: string, dataDir: string, serverIp: string, netbootYaml: string[]): Promise<LabDaemon> {
  const netboot = join(dir, 'netboot.yaml');
  writeFileSync(netboot, [...netbootYaml, ''].join('\n'));
  // Off loopback the daemon serves HTTPS (boot files stay plain HTTP on the same port); the kiosk verifies it with the OS's CA.
  const proc = lab.spawn(ns, process.execPath, [CLI, '--data-dir', dataDir, 'serve', '--listen', `${serverIp}:8080`, '--netboot', netboot, '--log-level', 'debug']);
  let log = '';
  proc.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await until('the daemon to listen', () => log.includes('ardesia daemon listening') || (proc.exitCode !== null && Promise.reject(new Error(log))), 60_000);
  const api = new ApiClient({ socketPath: join(dataDir, 'ardesia.sock'), token: readFileSync(join(dataDir, 'root.token'), 'utf8').trim() });
  return { proc, log: () => log, api };
}

/** The sercon file that makes SeaBIOS/iPXE print to the serial port under `-display none` (field notes). */
export function serconFile(dir: string): string {
  const path = join(dir, 'sercon');
  writeFileSync(path, Buffer.from([0xf8, 0x03]));
  return path;
}

export interface SerialConsole {
  /** The serial log so far, without terminal control sequences and carriage returns. */
  text(): string;
  /** Resolves once `re` matches the serial log; fails at once if QEMU exits or the thin client reports FATAL. */
  stage(re: RegExp, what: string): Promise<unknown>;
}

/** Reads the thin client's serial log file `path` (QEMU `-serial file:PATH`); `timeoutMs` bounds each stage. */
export function serialConsole(qemu: ChildProcess, path: string, timeoutMs: number): SerialConsole {
  const raw = () => (existsSync(path) ? readFileSync(path, 'latin1') : ''); // QEMU creates it once it runs
  // Firmware consoles (OVMF) also move the cursor and set modes: drop every CSI sequence, not only colours.
  const text = () => raw().replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
  const stage = (re: RegExp, what: string) =>
    until(what, () => {
      if (qemu.exitCode !== null) throw new Error(`the thin client's QEMU exited ${qemu.exitCode}:\n${text().slice(-3000)}`);
      if (/ARDESIA-TC FATAL/.test(text())) throw new Error(`the thin client stopped:\n${text().slice(-3000)}`);
      return re.test(text());
    }, timeoutMs, 500).catch((err: Error) => {
      throw new Error(`${err.message}\n--- serial (last 3000 chars) ---\n${text().slice(-3000)}`);
    });
  return { text, stage };
}

/** iPXE fetched `arch`'s kernel and initrd and started it: the fetch on the console, both files in the daemon's log, and
 *  the kernel's first line. iPXE's closing " ok" is not awaited: SeaBIOS's serial console can lose it when the kernel
 *  takes over the UART (a CI run saw "initrd.img... o" then the kernel), and the running kernel is the proof anyway. */
export async function kernelAndInitrdFetched(serial: SerialConsole, daemonLog: () => string, arch: ThinClientArch, kernelLine: RegExp): Promise<void> {
  await serial.stage(new RegExp(`boot/files/${arch}/initrd\\.img\\.\\.\\.`), `iPXE fetching the ${arch} kernel and initrd over HTTP`);
  await serial.stage(kernelLine, `the ${arch} kernel running`);
  for (const file of ['vmlinuz', 'initrd.img']) {
    if (!daemonLog().includes(`"event":"boot-file","arch":"${arch}","file":"${file}"`)) throw new Error(`the daemon's log has no ${arch}/${file} served`);
  }
}

const close = (a: readonly number[], b: readonly number[]) => a.every((v, i) => Math.abs(v - b[i]!) <= 8);

/** Share of the screen's pixels within ±8 of `rgb`. */
export function shareOf(png: DecodedPng, rgb: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < png.pixels.length; i += png.channels) if (close([png.pixels[i]!, png.pixels[i + 1]!, png.pixels[i + 2]!], rgb)) n++;
  return n / (png.width * png.height);
}

/** The login page as the browser tests saw it (docs/screenshots/portal-login.png): its background, the white login
 *  card and the blue button, each with at least a fraction of the share it has there (screens differ in size). */
export function looksLikeLoginPage(png: DecodedPng): boolean {
  const reference = decodePng(readFileSync(join(REPO, 'docs', 'screenshots', 'portal-login.png')));
  const background = dominantColour(reference).rgb;
  const card = [0xff, 0xff, 0xff];
  const button = [0x1f, 0x5f, 0xbf];
  return shareOf(png, background) > 0.5 && shareOf(png, card) > shareOf(reference, card) / 4 && shareOf(png, button) > shareOf(reference, button) / 4;
}

/** Takes screendumps into `pngPath` until the login page is on the screen; on timeout says what the screen showed. */
export async function waitForLoginPage(qmp: QmpClient, pngPath: string, serial: SerialConsole, timeoutMs: number): Promise<void> {
  let seen: { rgb: [number, number, number]; share: number } | undefined;
  await until('the login page on the screen', async () => {
    await qmp.screendump(pngPath, 'png');
    const png = decodePng(readFileSync(pngPath));
    seen = dominantColour(png);
    return looksLikeLoginPage(png);
  }, timeoutMs, 2000).catch((err: Error) => {
    throw new Error(`${err.message}; last dominant colour ${JSON.stringify(seen)}\n${serial.text().slice(-2000)}`);
  });
}
