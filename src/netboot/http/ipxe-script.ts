// iPXE scripts served to thin clients (pure): boot the thin-client OS, or say why not and retry.
import { bootParamsUnsafeChar } from '../../contract/thinclients.js';
import type { BootDecision } from '../../thinclients/inventory.js';
import type { ThinClientArch } from '../../thinclients/os/plan.js';

/** How long a refused client waits before asking again (it boots once an administrator enables it). */
export const RETRY_SECONDS = 30;

/** One built thin-client OS as the script boots it (from its manifest). */
export interface BootSystem {
  kernel: string;
  initrd: string;
  /** The OS manifest's kernel command line. */
  kernelCmdline: string;
}

export interface BootScriptInput {
  /** `http://ADDR:PORT` as the client reached us. */
  server: string;
  mac: string;
  /** The OS of each architecture built on this server; at least one. */
  systems: Partial<Record<ThinClientArch, BootSystem>>;
  /** The client's own extra words: plain kernel words only (BootParamsText); anything else is refused here too. */
  bootParams: string | null;
}

const words = (...parts: Array<string | null | undefined>) => parts.map((p) => p?.trim()).filter((p) => p).join(' ');

function bootLines(input: BootScriptInput, arch: ThinClientArch, system: BootSystem): string[] {
  const files = `${input.server}/boot/files/${arch}`;
  const cmdline = words(`initrd=${system.initrd}`, system.kernelCmdline, input.bootParams, `ardesia.server=${input.server}`, 'ardesia.mac=${mac}');
  return [`echo Ardesia: ${arch} thin-client OS`, `kernel ${files}/${system.kernel} ${cmdline}`, `initrd ${files}/${system.initrd}`, 'boot'];
}

/** Lines that print `message` and ask for the script again every RETRY_SECONDS. */
function retryLines(server: string, mac: string, message: string, label: string): string[] {
  return [`:${label}`, `echo ${message}`, `sleep ${RETRY_SECONDS}`, `chain --replace ${server}/boot/ipxe?mac=${mac} || goto ${label}`];
}

/**
 * Boots the OS the PC can run: a UEFI PC (x86-64 firmware, snponly.efi) and a BIOS PC whose CPU has
 * long mode (CPUID 0x80000001 EDX bit 29) get amd64; a 32-bit-only CPU gets i386. A 64-bit BIOS PC
 * falls back to i386 when only that is built; otherwise the PC says what to build and asks again.
 */
export function bootScript(input: BootScriptInput): string {
  const unsafe = input.bootParams ? bootParamsUnsafeChar(input.bootParams) : undefined;
  if (unsafe !== undefined) throw new RangeError(`boot parameters with ${JSON.stringify(unsafe)} would be read by iPXE as script`);
  const { amd64, i386 } = input.systems;
  const lines = ['#!ipxe', `echo Ardesia: booting thin client \${mac} from ${input.server}`];
  lines.push('iseq ${platform} efi && goto amd64 ||', 'cpuid --ext 29 && goto amd64 || goto i386', ':amd64');
  if (amd64) lines.push(...bootLines(input, 'amd64', amd64));
  else lines.push('iseq ${platform} efi && goto need_amd64 ||', 'goto i386');
  lines.push(':i386');
  if (i386) lines.push(...bootLines(input, 'i386', i386));
  else lines.push(...retryLines(input.server, input.mac, osArchMissingMessage('i386', input.mac), 'need_i386'));
  if (!amd64) lines.push(...retryLines(input.server, input.mac, osArchMissingMessage('amd64', input.mac), 'need_amd64'));
  return [...lines, ''].join('\n');
}

/** What a PC shows when the OS its CPU or firmware needs is not built. */
export function osArchMissingMessage(arch: ThinClientArch, mac: string): string {
  const why = arch === 'i386' ? "This PC's CPU has no 64-bit mode" : 'This UEFI PC boots only a 64-bit OS';
  return `${why}; ask an administrator to run: ardesia thinclient build --arch ${arch} (MAC ${mac})`;
}

/** A script that prints `message` and asks again every RETRY_SECONDS. */
export function waitingScript(server: string, mac: string, message: string): string {
  return ['#!ipxe', ...retryLines(server, mac, message, 'retry'), ''].join('\n');
}

export function refusalMessage(decision: Exclude<BootDecision, 'boot'>, mac: string): string {
  if (decision === 'busy') return `Too many new thin clients are registering at once; this PC asks again in ${RETRY_SECONDS} s (MAC ${mac})`;
  return decision === 'disabled'
    ? `This thin client is not enabled; ask an administrator (MAC ${mac})`
    : `This thin client is waiting for approval; ask an administrator to enable it (MAC ${mac})`;
}

export function osMissingMessage(mac: string): string {
  return `The thin-client OS is not built on this server yet; ask an administrator to run: ardesia thinclient build (MAC ${mac})`;
}
