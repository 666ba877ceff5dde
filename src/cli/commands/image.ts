// `ardesia image …`: gold images, their versions and maintenance sessions, over the daemon's API.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ArdesiaError, isErrorCode } from '../../contract/errors.js';
import { ImportFormat, type ImageInfo, type ImageVersion, type MaintenanceSession, type Operation } from '../../contract/images.js';
import { formatMiB } from '../../lib/size.js';
import { ApiClient, type GlobalOptions, resolveEndpoint } from '../client.js';
import { ARCHES, duration, flag, GiB, MiB, oneOf, positiveInt, size, TiB } from '../options.js';
import { networkFromFlags } from '../network-flags.js';
import { output, table } from '../output.js';

const POLL_MS = 300;

export function client(cmd: Command): ApiClient {
  return new ApiClient(resolveEndpoint(cmd.optsWithGlobals<GlobalOptions>()));
}

export function wantsJson(cmd: Command): boolean {
  return cmd.optsWithGlobals<GlobalOptions>().json === true;
}

/** Disks and home volumes: 1M to 64T, the API's own limits. */
export const diskSize = size({ minBytes: MiB, maxBytes: 64 * TiB });
/** Guest memory: 16M to 1T, the API's own limits. */
export const memorySize = size({ minBytes: 16 * MiB, maxBytes: 1024 * GiB });

export const enc = encodeURIComponent;
const mib = (bytes: number) => formatMiB(Math.max(1, Math.round(bytes / 2 ** 20)));

/** The progress bar drawn on stderr when it is a terminal: `[#####-----]  50% importing …`. */
export function progressLine(op: Operation, width = 30): string {
  const pct = op.progress ?? 0;
  const filled = Math.round((pct / 100) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${pct.toFixed(0).padStart(3)}% ${op.message}`;
}

/** Polls an operation until it ends; the result, or its error thrown as the daemon gave it. */
export async function followOperation<T>(api: ApiClient, started: Operation, showProgress: boolean): Promise<T> {
  let op = started;
  const tty = showProgress && process.stderr.isTTY;
  while (op.state === 'running') {
    if (tty) process.stderr.write(`\r${progressLine(op)}\x1b[K`);
    await new Promise((r) => setTimeout(r, POLL_MS));
    op = await api.request<Operation>('GET', `/v1/operations/${enc(op.id)}`);
  }
  if (tty) process.stderr.write(`\r${progressLine(op)}\x1b[K\n`);
  if (op.state === 'failed') {
    const e = op.error!;
    throw new ArdesiaError(isErrorCode(e.code) ? e.code : 'INTERNAL', e.message, e.details, e.hint);
  }
  return op.result as T;
}

function versionRows(versions: ImageVersion[]): string[][] {
  return versions.map((v) => [
    String(v.version),
    v.current ? '*' : '',
    v.backingVersion === null ? 'flat' : `on ${v.backingVersion}`,
    String(v.depth),
    mib(v.virtualSize),
    v.sha256.slice(0, 16),
    v.createdAt,
  ]);
}

function describeImage(img: ImageInfo): string {
  const b = img.boot;
  const lines = [
    `image ${img.name}: current version ${img.currentVersion ?? 'none'}`,
    `  boot: ${b.arch}, ${b.firmware}, ${formatMiB(b.memoryMiB)}${b.kernel ? `, kernel ${b.kernel}` : ''}${b.cmdline ? ` (${b.cmdline})` : ''}`,
    `  desktops: ${img.desktops.join(', ') || 'none'}`,
    `  maintenance: ${img.maintenance ? `vm ${img.maintenance.vm} by ${img.maintenance.startedBy} at ${img.maintenance.startedAt} → version ${img.maintenance.targetVersion}` : 'none'}`,
  ];
  if (img.versions.length) lines.push('', table(['VERSION', 'CUR', 'LAYOUT', 'DEPTH', 'SIZE', 'SHA256', 'CREATED'], versionRows(img.versions)));
  return lines.join('\n');
}

interface CreateFlags {
  network?: string;
  natAllow?: string;
  natHostAccess?: boolean;
  from?: string;
  format?: (typeof ImportFormat.options)[number];
  iso?: string;
  size?: number;
  build?: 'debian';
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  uefi?: boolean;
  memory?: number;
  arch?: 'amd64' | 'i386';
}

export function createBody(name: string, f: CreateFlags): Record<string, unknown> {
  const boot: Record<string, unknown> = {};
  if (f.kernel) boot.kernel = resolve(f.kernel);
  if (f.initrd) boot.initrd = resolve(f.initrd);
  if (f.cmdline) boot.cmdline = f.cmdline;
  if (f.uefi) boot.firmware = 'uefi';
  if (f.arch) boot.arch = f.arch;
  if (f.memory) boot.memoryMiB = Math.round(f.memory / MiB);
  return {
    name,
    ...(f.from ? { from: resolve(f.from) } : {}),
    ...(f.format ? { format: f.format } : {}),
    ...(f.iso ? { iso: resolve(f.iso) } : {}),
    ...(f.size ? { sizeBytes: f.size } : {}),
    ...(f.build ? { build: f.build } : {}),
    ...(f.network !== undefined || f.natAllow !== undefined || f.natHostAccess ? { network: networkFromFlags(f) } : {}),
    boot,
  };
}

export function registerImageCommands(program: Command): void {
  const image = program.command('image').description('gold images: versions, maintenance sessions, publish and rollback');

  image
    .command('create')
    .description('create a gold image from a disk (--from), an installer ISO (--iso, --size) or Debian packages (--build debian)')
    .argument('<name>')
    .option('--from <file>', 'import this disk image (qcow2, vmdk, vdi, vhdx by their headers; raw only with --format raw)')
    .option('--format <format>', `the format the file is, one of ${ImportFormat.options.join(', ')} (checked against its header; raw must be said)`, oneOf(ImportFormat.options))
    .option('--iso <file>', 'boot this installer ISO in a maintenance session with a blank disk')
    .option('--size <size>', 'size of the blank disk for --iso, e.g. 8G', diskSize)
    .option('--network <none|nat|bridge:BR>', 'the installer VM\'s network card for --iso: none (the default), QEMU NAT, or a tap on Linux bridge BR')
    .option('--nat-allow <host:port,…>', 'restricted NAT for --iso: only these TCP destinations, at their own address (no DNS)')
    .option('--nat-host-access', 'unrestricted NAT that may also reach this host\'s own addresses (10.0.2.2 = its loopback); refused by default')
    .option('--build <distro>', 'build from distribution packages: debian', oneOf(['debian']))
    .option('--kernel <file>', 'boot profile: direct kernel boot with this kernel (copied into the image)')
    .option('--initrd <file>', 'boot profile: initial ramdisk (copied into the image)')
    .option('--cmdline <text>', 'boot profile: kernel command line')
    .option('--uefi', 'boot profile: UEFI firmware (default BIOS)')
    .addOption(flag('--memory <size>', 'boot profile: memory of desktops and maintenance VMs', memorySize, '512M'))
    .option('--arch <arch>', ARCHES.join(' or '), oneOf(ARCHES))
    .action(async (name: string, flags: CreateFlags, cmd: Command) => {
      const api = client(cmd);
      const op = await api.request<Operation>('POST', '/v1/images', createBody(name, flags));
      const img = await followOperation<ImageInfo>(api, op, !wantsJson(cmd));
      if (wantsJson(cmd)) return output(true, img);
      if (img.maintenance) console.log(`ardesia: image ${name} created; install it through the console: ardesia vm console ${img.maintenance.vm}, then ardesia image publish ${name}`);
      else console.log(`ardesia: image ${name} created, version ${img.currentVersion} (sha256 ${img.versions.at(-1)?.sha256})`);
    });

  image
    .command('build')
    .description('build a small Debian desktop gold image from Debian packages, with the guest helper (= create --build debian)')
    .argument('<name>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const api = client(cmd);
      const op = await api.request<Operation>('POST', '/v1/images', createBody(name, { build: 'debian', memory: GiB }));
      const img = await followOperation<ImageInfo>(api, op, !wantsJson(cmd));
      if (wantsJson(cmd)) return output(true, img);
      console.log(`ardesia: image ${name} built, version ${img.currentVersion} (sha256 ${img.versions.at(-1)?.sha256})`);
    });

  image
    .command('list')
    .description('list gold images')
    .action(async (_f: unknown, cmd: Command) => {
      const imgs = await client(cmd).request<ImageInfo[]>('GET', '/v1/images');
      if (wantsJson(cmd)) return output(true, imgs);
      console.log(
        table(
          ['NAME', 'CURRENT', 'VERSIONS', 'DESKTOPS', 'MAINTENANCE'],
          imgs.map((i) => [i.name, String(i.currentVersion ?? '-'), String(i.versions.length), String(i.desktops.length), i.maintenance ? i.maintenance.vm : '-']),
        ),
      );
    });

  image
    .command('show')
    .description('one gold image: boot profile, versions, session, desktops')
    .argument('<name>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const img = await client(cmd).request<ImageInfo>('GET', `/v1/images/${enc(name)}`);
      output(wantsJson(cmd), wantsJson(cmd) ? img : describeImage(img));
    });

  image
    .command('versions')
    .description('the versions of a gold image (* = current)')
    .argument('<name>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const versions = await client(cmd).request<ImageVersion[]>('GET', `/v1/images/${enc(name)}/versions`);
      output(wantsJson(cmd), wantsJson(cmd) ? versions : table(['VERSION', 'CUR', 'LAYOUT', 'DEPTH', 'SIZE', 'SHA256', 'CREATED'], versionRows(versions)));
    });

  image
    .command('edit')
    .description('open a maintenance session: a VM on a writable overlay of the current version')
    .argument('<name>')
    .option('--network <none|nat|bridge:BR>', 'the maintenance VM\'s network card (for updates): none (the default), QEMU NAT, or a tap on Linux bridge BR')
    .option('--nat-allow <host:port,…>', 'restricted NAT: only these TCP destinations (a package mirror), at their own address (no DNS)')
    .option('--nat-host-access', 'unrestricted NAT that may also reach this host\'s own addresses (10.0.2.2 = its loopback); refused by default')
    .action(async (name: string, f: { network?: string; natAllow?: string; natHostAccess?: boolean }, cmd: Command) => {
      const body = f.network !== undefined || f.natAllow !== undefined || f.natHostAccess ? { network: networkFromFlags(f) } : {};
      const s = await client(cmd).request<MaintenanceSession>('POST', `/v1/images/${enc(name)}/edit`, body);
      if (wantsJson(cmd)) return output(true, s);
      console.log(`ardesia: maintenance session on image ${name} version ${s.baseVersion} (vm ${s.vm}); console: ardesia vm console ${s.vm}; then ardesia image publish ${name}`);
    });

  image
    .command('publish')
    .description('power the maintenance VM off and publish its disk as the next version')
    .argument('<name>')
    .option('--flatten', 'write a self-contained version instead of an overlay on the previous one')
    .addOption(flag('--timeout <seconds>', 'how long the guest may take to power off (or 5m)', duration({ bareUnit: 's', minMs: 1000, maxMs: 3_600_000 }), '120'))
    .action(async (name: string, flags: { flatten?: boolean; timeout: number }, cmd: Command) => {
      const api = client(cmd);
      const op = await api.request<Operation>('POST', `/v1/images/${enc(name)}/publish`, { flatten: !!flags.flatten, stopTimeoutMs: flags.timeout });
      const v = await followOperation<ImageVersion>(api, op, !wantsJson(cmd));
      if (wantsJson(cmd)) return output(true, v);
      console.log(`ardesia: published image ${name} version ${v.version} (${v.backingVersion === null ? 'flat' : `overlay on ${v.backingVersion}`}, sha256 ${v.sha256})`);
    });

  image
    .command('discard')
    .description('throw the maintenance session away')
    .argument('<name>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const r = await client(cmd).request<{ discarded: string }>('POST', `/v1/images/${enc(name)}/discard`);
      output(wantsJson(cmd), wantsJson(cmd) ? r : `ardesia: discarded the maintenance session of image ${name}`);
    });

  image
    .command('rollback')
    .description('make an earlier version current again (desktops on "latest" get it at their next reset)')
    .argument('<name>')
    .requiredOption('--to <version>', 'the version', positiveInt())
    .action(async (name: string, flags: { to: number }, cmd: Command) => {
      const img = await client(cmd).request<ImageInfo>('POST', `/v1/images/${enc(name)}/rollback`, { to: flags.to });
      output(wantsJson(cmd), wantsJson(cmd) ? img : `ardesia: image ${name} current version is now ${img.currentVersion}`);
    });

  image
    .command('delete')
    .description('delete a gold image, or one version; refused while anything depends on it')
    .argument('<name>')
    .option('--version <n>', 'only this version', positiveInt())
    .action(async (name: string, flags: { version?: number }, cmd: Command) => {
      const q = flags.version ? `?version=${flags.version}` : '';
      const r = await client(cmd).request<{ deleted: string; version?: number }>('DELETE', `/v1/images/${enc(name)}${q}`);
      output(wantsJson(cmd), wantsJson(cmd) ? r : `ardesia: deleted image ${name}${r.version ? ` version ${r.version}` : ''}`);
    });

  image
    .command('gc')
    .description('delete versions that are not current and that no desktop, session or newer version uses')
    .option('--image <name>', 'only this image')
    .action(async (flags: { image?: string }, cmd: Command) => {
      const r = await client(cmd).request<{ deleted: Array<{ image: string; version: number }> }>('POST', '/v1/images/gc', flags.image ? { image: flags.image } : {});
      if (wantsJson(cmd)) return output(true, r);
      console.log(r.deleted.length ? r.deleted.map((d) => `ardesia: deleted image ${d.image} version ${d.version}`).join('\n') : 'ardesia: nothing to collect');
    });
}
