// `ardesia vm …`: vmctl's verbs, over the daemon's API.
import { terminalSafe, terminalSafeLine } from '../terminal-safe.js';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ArdesiaError } from '../../contract/errors.js';
import type { VmMigrationView } from '../../contract/hosts.js';
import type { VmStatus } from '../../contract/vm.js';
import { formatMiB } from '../../lib/size.js';
import { ApiClient, type GlobalOptions, resolveEndpoint } from '../client.js';
import { attachConsole } from '../console.js';
import { ARCHES, duration, flag, nonNegativeInt, oneOf, positiveInt, size, TiB } from '../options.js';
import { output, table } from '../output.js';

const collect = (value: string, prev: string[] = []) => [...prev, value];

function client(cmd: Command): ApiClient {
  return new ApiClient(resolveEndpoint(cmd.optsWithGlobals<GlobalOptions>()));
}

function json(cmd: Command): boolean {
  return cmd.optsWithGlobals<GlobalOptions>().json === true;
}

const MAX_WAIT_MS = 86_400_000; // the API's own limit on waits (routes-vm.ts)
const MAX_STOP_WAIT_MS = 3_600_000;
const anySize = size({ minBytes: 1, maxBytes: 64 * TiB });

interface StartFlags {
  console?: boolean;
  memory?: number;
  disk?: string[];
  boot?: string;
  bootDevice?: 'cdrom' | 'disk' | 'net';
  cdrom?: string;
  network?: string[];
  interfaces?: number;
  template?: string;
  initrd?: string;
  append?: string;
  uefi?: boolean;
  arch?: 'amd64' | 'i386';
  cpus?: number;
  accel?: 'auto' | 'kvm' | 'tcg';
}

/** vmctl start's flags → the ad hoc part of a start request (only what was given). */
export function adHocFromFlags(f: StartFlags): Record<string, unknown> {
  const adHoc: Record<string, unknown> = {};
  if (f.memory) adHoc.memoryMiB = Math.round(f.memory / 2 ** 20);
  if (f.cpus) adHoc.vcpus = f.cpus;
  if (f.arch) adHoc.arch = f.arch;
  if (f.accel) adHoc.accel = f.accel;
  if (f.disk?.length) adHoc.disks = f.disk.map((d) => ({ path: resolve(d), format: d.endsWith('.raw') || d.endsWith('.img') ? 'raw' : 'qcow2' }));
  if (f.cdrom) adHoc.cdrom = resolve(f.cdrom);
  const boot: Record<string, unknown> = {};
  if (f.boot) boot.kernel = resolve(f.boot);
  if (f.initrd) boot.initrd = resolve(f.initrd);
  if (f.append) boot.cmdline = f.append;
  if (f.uefi) boot.firmware = 'uefi';
  if (f.bootDevice) boot.device = f.bootDevice;
  if (Object.keys(boot).length) adHoc.boot = boot;
  const nics: Array<Record<string, unknown>> = [];
  for (let i = 0; i < (f.interfaces ?? 0); i++) nics.push({ mode: 'user' });
  for (const sw of f.network ?? []) nics.push({ mode: 'bridge', bridge: sw });
  if (nics.length) adHoc.nics = nics;
  return adHoc;
}

/** Every cell one safe line: a stop reason can carry what a guest printed. */
function statusLine(vm: VmStatus): string[] {
  return [vm.name, vm.state, vm.pid ? String(vm.pid) : '-', String(vm.vcpus), formatMiB(vm.memoryMiB), vm.accel ?? '-', vm.owner ?? 'root', vm.lastStopReason ?? ''].map(terminalSafeLine);
}

export function registerVmCommands(program: Command): void {
  const vm = program.command('vm').description("operate VMs (vmctl's verbs)");

  vm.command('start')
    .description('start a VM; with -m/-d/-b and no definition, start one ad hoc')
    .argument('<name>')
    .option('-c, --console', 'attach to the serial console once started')
    .option('-m, --memory <size>', 'memory, e.g. 512M or 2G', anySize)
    .option('-d, --disk <path>', 'disk image (repeatable)', collect)
    .option('-b, --boot <path>', 'kernel (bzImage/ELF/multiboot) or BIOS image to boot')
    .option('-B, --boot-device <device>', 'boot from: cdrom, disk or net', oneOf(['cdrom', 'disk', 'net']))
    .option('-r, --cdrom <iso>', 'ISO image as CD-ROM')
    .option('-n, --network <bridge>', 'NIC on this Linux bridge (repeatable)', collect)
    .option('-i, --interfaces <count>', 'number of NAT network interfaces', nonNegativeInt(32))
    .option('-t, --template <vm>', 'create this VM as an instance of another')
    .option('--initrd <path>', 'initial ramdisk for a direct kernel boot')
    .option('--append <cmdline>', 'kernel command line')
    .option('--uefi', 'boot with UEFI firmware (OVMF)')
    .option('--arch <arch>', ARCHES.join(' or '), oneOf(ARCHES))
    .option('--cpus <n>', 'virtual CPUs', positiveInt(1024))
    .option('--accel <accel>', 'auto, kvm or tcg', oneOf(['auto', 'kvm', 'tcg']))
    .option('--discard-state', 'boot afresh: delete the state `vm stop --to-disk` saved instead of resuming it')
    .action(async (name: string, flags: StartFlags & { discardState?: boolean }, cmd: Command) => {
      const adHoc = adHocFromFlags(flags);
      const api = client(cmd);
      const body = { ...(Object.keys(adHoc).length ? { adHoc } : {}), ...(flags.template ? { template: flags.template } : {}), ...(flags.discardState ? { discardState: true } : {}) };
      const status = await api.request<VmStatus>('POST', `/v1/vms/${encodeURIComponent(name)}/start`, body);
      if (json(cmd)) output(true, status);
      else {
        console.log(`ardesia: started vm ${name} (pid ${status.pid}, ${status.accel === 'tcg' ? 'TCG — software emulation' : 'KVM'})`);
        if (status.accelNote) console.log(`ardesia: warning: ${status.accelNote}`);
      }
      if (flags.console) await attachConsole(api, [name], { replayBytes: 65536 });
    });

  vm.command('stop')
    .description('press the power button (graceful), or force with -f')
    .argument('[names...]')
    .option('-a, --all', 'stop every running VM')
    .option('-f, --force', 'stop at once (QEMU quit), like pulling the plug')
    .option('-w, --wait', 'wait until the VM has stopped')
    .option('--to-disk', 'save the running VM\'s state (memory and devices) first; `vm start` resumes it where it was')
    .addOption(flag('--timeout <seconds>', 'with -w, how long the guest may take (or 5m)', duration({ bareUnit: 's', minMs: 0, maxMs: MAX_STOP_WAIT_MS }), '60'))
    .action(async (names: string[], flags: { all?: boolean; force?: boolean; wait?: boolean; toDisk?: boolean; timeout: number }, cmd: Command) => {
      const api = client(cmd);
      if (flags.all) names = (await api.requestAll<VmStatus>('/v1/vms')).filter((v) => v.state !== 'stopped').map((v) => v.name);
      else if (names.length === 0) throw new ArdesiaError('BAD_REQUEST', 'name a VM to stop, or use -a for all');
      const waitMs = flags.wait ? flags.timeout : undefined;
      const results = await Promise.all(
        names.map(async (name) => ({
          name,
          ...(await api.request<{ stopped: boolean; reason?: string }>('POST', `/v1/vms/${encodeURIComponent(name)}/stop`, { force: !!flags.force, ...(flags.toDisk ? { toDisk: true } : {}), waitMs })),
        })),
      );
      if (json(cmd)) return output(true, results);
      for (const r of results) console.log(r.stopped ? `ardesia: vm ${r.name} stopped${r.reason ? `: ${r.reason}` : ''}` : `ardesia: sent the power button to vm ${r.name}`);
    });

  vm.command('send')
    .description("save a running VM's state to stdout and stop it (vmctl send): ardesia vm send NAME > FILE")
    .argument('<name>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      if (process.stdout.isTTY) throw new ArdesiaError('BAD_REQUEST', 'the state is binary: send it to a file or a pipe (ardesia vm send NAME > FILE)');
      await client(cmd).download('POST', `/v1/vms/${encodeURIComponent(name)}/send`, undefined, process.stdout);
    });

  vm.command('receive')
    .description('restore a VM from a state on stdin (vmctl receive): ardesia vm receive NAME < FILE')
    .argument('<name>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      if (process.stdin.isTTY) throw new ArdesiaError('BAD_REQUEST', 'give the state on stdin (ardesia vm receive NAME < FILE)');
      const status = await client(cmd).upload<VmStatus>('POST', `/v1/vms/${encodeURIComponent(name)}/receive`, process.stdin);
      if (json(cmd)) output(true, status);
      else console.log(`ardesia: vm ${name} resumed from the state received (pid ${status.pid})`);
    });

  vm.command('status')
    .description('list VMs, or show one')
    .argument('[name]')
    .action(async (name: string | undefined, _f: unknown, cmd: Command) => {
      const api = client(cmd);
      const vms = name ? [await api.request<VmStatus>('GET', `/v1/vms/${encodeURIComponent(name)}`)] : await api.requestAll<VmStatus>('/v1/vms');
      if (json(cmd)) return output(true, name ? vms[0] : vms);
      console.log(table(['NAME', 'STATE', 'PID', 'VCPUS', 'MEMORY', 'ACCEL', 'OWNER', 'LAST STOP'], vms.map(statusLine)));
      for (const v of vms.filter((x) => x.hostLoss)) console.log(`\n${terminalSafeLine(`${v.name}: ${v.hostLoss}`)}`);
      for (const v of vms.filter((x) => x.savedStateOn)) {
        console.log(`\n${terminalSafeLine(`${v.name}: its state is saved on host ${v.savedStateOn}: \`vm start\` resumes it, \`vm send\` sends it, \`vm start --discard-state\` boots afresh`)}`);
      }
      if (vms.some((v) => v.accel === 'tcg')) console.log(`\nwarning: ${vms.find((v) => v.accelNote)?.accelNote}`);
    });

  for (const [verb, desc] of [
    ['pause', 'pause the vCPUs'],
    ['unpause', 'resume the vCPUs'],
    ['reset', 'reset the machine (like the reset button)'],
  ] as const) {
    vm.command(verb)
      .description(desc)
      .argument('<name>')
      .action(async (name: string, _f: unknown, cmd: Command) => {
        const status = await client(cmd).request<VmStatus>('POST', `/v1/vms/${encodeURIComponent(name)}/${verb}`);
        if (json(cmd)) output(true, status);
        else console.log(`ardesia: vm ${name} ${verb === 'reset' ? 'was reset' : `is ${status.state}`}`);
      });
  }

  vm.command('migrate')
    .description("move a running VM or persistent desktop to another host while it runs (live migration; administrators; the controller's own host only with --to)")
    .argument('<name>')
    .option('--to <host>', 'the host to move it to (default: where placement puts it)')
    .action(async (name: string, flags: { to?: string }, cmd: Command) => {
      const moved = await client(cmd).request<VmMigrationView>('POST', `/v1/vms/${encodeURIComponent(name)}/migrate`, flags.to !== undefined ? { host: flags.to } : {});
      if (json(cmd)) output(true, moved);
      else console.log(`ardesia: vm ${name} moved from host ${moved.from} to host ${moved.to} in ${(moved.ms / 1000).toFixed(1)} s, running throughout`);
    });

  vm.command('wait')
    .description('wait until a VM stops')
    .argument('<name>')
    .addOption(flag('--timeout <seconds>', 'give up after this long (or 30m, 2h)', duration({ bareUnit: 's', minMs: 1, maxMs: MAX_WAIT_MS }), '3600'))
    .action(async (name: string, flags: { timeout: number }, cmd: Command) => {
      const r = await client(cmd).request<{ reason: string }>('POST', `/v1/vms/${encodeURIComponent(name)}/wait`, { timeoutMs: flags.timeout });
      if (json(cmd)) output(true, { name, ...r });
      else console.log(`ardesia: vm ${name} stopped: ${terminalSafeLine(r.reason)}`);
    });

  vm.command('log')
    .description('recent serial console output (without attaching), or QEMU’s own log with --qemu')
    .argument('<name>')
    .option('--qemu', "QEMU's log instead of the console")
    .option('--raw', "the guest's bytes as they are, escape sequences included (default: control characters shown as \\xNN)")
    .addOption(flag('--bytes <n>', 'how much of the end (up to 1M)', size({ minBytes: 1, maxBytes: 2 ** 20 }), '64K'))
    .action(async (name: string, flags: { qemu?: boolean; raw?: boolean; bytes: number }, cmd: Command) => {
      const text = await client(cmd).request<string>('GET', `/v1/vms/${encodeURIComponent(name)}/log?kind=${flags.qemu ? 'qemu' : 'console'}&bytes=${flags.bytes}`);
      if (json(cmd)) output(true, { name, log: text });
      else process.stdout.write(flags.raw ? text : terminalSafe(text));
    });

  vm.command('console')
    .description('attach to serial consoles (detach with ~. at the start of a line)')
    .argument('<names...>')
    .addOption(flag('--replay <bytes>', 'show this much recent output first', size({ minBytes: 0, maxBytes: 2 ** 20 }), '2K'))
    .action(async (names: string[], flags: { replay: number }, cmd: Command) => {
      await attachConsole(client(cmd), names, { replayBytes: flags.replay });
    });

  vm.command('create')
    .description('create a disk image: empty (-s), on a base (-b) or converted from another (-i)')
    .argument('<disk>')
    .option('-b, --base <image>', 'base image: the new disk is a qcow2 overlay on it')
    .option('-i, --input <image>', 'copy and convert this image')
    .option('-s, --size <size>', 'virtual size, e.g. 10G', anySize)
    .action(async (disk: string, flags: { base?: string; input?: string; size?: number }, cmd: Command) => {
      const path = resolve(disk);
      const body = {
        path,
        format: /\.(raw|img)$/.test(path) ? 'raw' : 'qcow2',
        ...(flags.size ? { sizeBytes: flags.size } : {}),
        ...(flags.base ? { base: resolve(flags.base) } : {}),
        ...(flags.input ? { from: resolve(flags.input) } : {}),
      };
      const r = await client(cmd).request<{ path: string; format: string; virtualSize: number }>('POST', '/v1/disks', body);
      if (json(cmd)) output(true, r);
      else console.log(`ardesia: created ${r.path} (${r.format}, ${formatMiB(Math.round(r.virtualSize / 2 ** 20))})`);
    });

  vm.command('load')
    .description('load a vm.conf (or .yaml/.json) file and define its VMs')
    .argument('<file>')
    .action(async (file: string, _f: unknown, cmd: Command) => {
      const r = await client(cmd).request<Record<string, string[] | string>>('POST', '/v1/config/load', { path: resolve(file) });
      if (json(cmd)) output(true, r);
      else console.log(describeLoad(r));
    });

  vm.command('reload')
    .description('re-read the loaded configuration file')
    .action(async (_f: unknown, cmd: Command) => {
      const r = await client(cmd).request<Record<string, string[] | string>>('POST', '/v1/config/reload');
      if (json(cmd)) output(true, r);
      else console.log(describeLoad(r));
    });
}

function describeLoad(r: Record<string, string[] | string>): string {
  const list = (k: string) => ((r[k] as string[]) ?? []).join(', ') || 'none';
  return `ardesia: ${r.path}: added ${list('added')}; updated ${list('updated')}; removed ${list('removed')}; started ${list('started')}`;
}
