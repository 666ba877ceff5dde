// `ardesia host check`: runs on this machine (no daemon): CPU, /dev/kvm, QEMU and a KVM probe.
import type { Command } from 'commander';
import { DEFAULT_PROBE_TIMEOUT_MS, formatHostReport, hostCheck } from '../../hypervisor/host/index.js';

interface HostCheckFlags {
  json?: boolean;
  probeTimeout: string;
}

function parseTimeout(text: string): number {
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms <= 0) throw new Error(`--probe-timeout wants a positive number of milliseconds, not "${text}"`);
  return ms;
}

export function registerHostCommands(program: Command): void {
  const host = program.command('host').description('this host: can it run VMs with KVM?');
  host
    .command('check')
    .description('check VMX/SVM, EPT/NPT, nested virtualization, /dev/kvm and run a KVM probe guest (exit 1 only when QEMU is missing)')
    .option('--json', 'machine-readable output')
    .option('--probe-timeout <ms>', 'how long the probe guest may take', String(DEFAULT_PROBE_TIMEOUT_MS))
    .action(async (flags: HostCheckFlags, cmd: Command) => {
      const report = await hostCheck({ probeTimeoutMs: parseTimeout(flags.probeTimeout) });
      const json = flags.json === true || cmd.optsWithGlobals<{ json?: boolean }>().json === true;
      process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${formatHostReport(report)}\n`);
      if (report.qemu.version === null) process.exitCode = 1;
    });
}
