// `ardesia host check`: runs on this machine (no daemon): CPU, /dev/kvm, QEMU and a KVM probe.
import type { Command } from 'commander';
import { DEFAULT_PROBE_TIMEOUT_MS, formatHostReport, hostCheck } from '../../hypervisor/host/index.js';

import { duration, flag } from '../options.js';

interface HostCheckFlags {
  json?: boolean;
  probeTimeout: number;
}

export function registerHostCommands(program: Command): void {
  const host = program.command('host').description('this host: can it run VMs with KVM?');
  host
    .command('check')
    .description('check VMX/SVM, EPT/NPT, nested virtualization, /dev/kvm and run a KVM probe guest (exit 1 only when QEMU is missing)')
    .option('--json', 'machine-readable output')
    .addOption(flag('--probe-timeout <ms>', 'how long the probe guest may take (or 5s)', duration({ bareUnit: 'ms', minMs: 100, maxMs: 600_000 }), String(DEFAULT_PROBE_TIMEOUT_MS)))
    .action(async (flags: HostCheckFlags, cmd: Command) => {
      const report = await hostCheck({ probeTimeoutMs: flags.probeTimeout });
      const json = flags.json === true || cmd.optsWithGlobals<{ json?: boolean }>().json === true;
      process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${formatHostReport(report)}\n`);
      if (report.qemu.version === null) process.exitCode = 1;
    });
}
