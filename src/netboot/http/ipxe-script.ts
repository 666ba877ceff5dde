// iPXE scripts served to thin clients (pure): boot the thin-client OS, or say why not and retry.
import type { BootDecision } from '../../thinclients/inventory.js';

/** How long a refused client waits before asking again (it boots once an administrator enables it). */
export const RETRY_SECONDS = 30;

export interface BootScriptInput {
  /** `http://ADDR:PORT` as the client reached us. */
  server: string;
  mac: string;
  kernel: string;
  initrd: string;
  /** The OS manifest's kernel command line. */
  kernelCmdline: string;
  /** The client's own extra words (validated: printable, no `$`). */
  bootParams: string | null;
}

const words = (...parts: Array<string | null | undefined>) => parts.map((p) => p?.trim()).filter((p) => p).join(' ');

export function bootScript(input: BootScriptInput): string {
  const files = `${input.server}/boot/files`;
  const cmdline = words(`initrd=${input.initrd}`, input.kernelCmdline, input.bootParams, `ardesia.server=${input.server}`, 'ardesia.mac=${mac}');
  return [
    '#!ipxe',
    `echo Ardesia: booting thin client \${mac} from ${input.server}`,
    `kernel ${files}/${input.kernel} ${cmdline}`,
    `initrd ${files}/${input.initrd}`,
    'boot',
    '',
  ].join('\n');
}

/** A script that prints `message` and asks again every RETRY_SECONDS. */
export function waitingScript(server: string, mac: string, message: string): string {
  return [
    '#!ipxe',
    ':retry',
    `echo ${message}`,
    `sleep ${RETRY_SECONDS}`,
    `chain --replace ${server}/boot/ipxe?mac=${mac} || goto retry`,
    '',
  ].join('\n');
}

export function refusalMessage(decision: Exclude<BootDecision, 'boot'>, mac: string): string {
  return decision === 'disabled'
    ? `This thin client is not enabled; ask an administrator (MAC ${mac})`
    : `This thin client is waiting for approval; ask an administrator to enable it (MAC ${mac})`;
}

export function osMissingMessage(mac: string): string {
  return `The thin-client OS is not built on this server yet; ask an administrator (MAC ${mac})`;
}
