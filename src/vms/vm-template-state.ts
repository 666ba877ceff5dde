// A VM started as a clone of a restore template (pool start mode `restore`): the launch checked against the
// template's manifest (saved-state/template.ts) before QEMU starts, then the state handed as an inherited fd and
// loaded with `-incoming defer`, as a resumed VM's own state is (vm-saved-state.ts), on the template's RAM mapped
// privately (shared-ram.ts). The template is never consumed.
import type { VmRestoreFrom } from '../contract/agent.js';
import { ArdesiaError } from '../contract/errors.js';
import type { VmSpec } from '../contract/vm.js';
import type { QemuLaunch } from '../hypervisor/qemu/argv.js';
import { FIRST_HANDED_FD } from '../hypervisor/qemu/handed-files.js';
import type { BackingChains } from '../hypervisor/qemu/storage-args.js';
import { hasClipboardAgent, withoutClipboardAgent } from '../hypervisor/saved-state/clipboard-agent.js';
import { machineOf } from '../hypervisor/saved-state/manifest.js';
import { withSharedRam } from '../hypervisor/saved-state/shared-ram.js';
import { type CloneIdentity, templateCloneProblems, templateDevicesFingerprint, type TemplateToLoad } from '../hypervisor/saved-state/template.js';

export type { TemplateToLoad } from '../hypervisor/saved-state/template.js';

/** What the clone's launch is, in the template manifest's terms. */
export function cloneIdentity(spec: VmSpec, launch: QemuLaunch, runtimeDir: string, accel: 'kvm' | 'tcg', qemuVersion: string, chains: BackingChains): CloneIdentity {
  const system = spec.disks[0];
  return {
    qemuVersion,
    machine: machineOf(launch.args),
    memoryMiB: spec.memoryMiB,
    vcpus: spec.vcpus,
    accel,
    devicesSha256: templateDevicesFingerprint({ binary: launch.binary, args: launch.args, vm: spec.name, runtimeDir }),
    backing: system ? chains.get(system.path)?.[0]?.path : undefined,
  };
}

/**
 * The launch with its guest RAM on a template's memfd (`ram`: the daemon's /proc path to it), handed as the next
 * fd: shared for the template itself, private (copy-on-write) for a clone.
 */
export function launchWithSharedRam(launch: QemuLaunch, ram: string, memoryMiB: number, share: boolean): QemuLaunch {
  const fd = FIRST_HANDED_FD + launch.handed.length;
  return { ...launch, args: withSharedRam(launch.args, { memPath: `/proc/self/fd/${fd}`, memoryMiB, share }), handed: [...launch.handed, { path: ram, writable: false, fd, daemonFile: true }] };
}

/** The clone's launch: refused with every difference, else on the template's RAM, with the state as the last fd and `-incoming defer`. */
export function launchFromTemplate(launch: QemuLaunch, template: TemplateToLoad, clone: CloneIdentity, vm: string, memoryMiB: number): { launch: QemuLaunch; fd: number; clipboardAgent: boolean; identicalArgs: string[] } {
  const problems = templateCloneProblems(template.manifest, clone);
  if (problems.length > 0) throw new ArdesiaError('VM_STATE_MISMATCH', `vm ${vm}: template ${template.manifest.key} does not fit this desktop: ${problems.join('; ')}`, { problems });
  const onRam = launchWithSharedRam(launch, template.ram, memoryMiB, false);
  const fd = FIRST_HANDED_FD + onRam.handed.length;
  return {
    launch: { ...onRam, args: [...withoutClipboardAgent(onRam.args), '-incoming', 'defer'], handed: [...onRam.handed, { path: template.stream, writable: false, fd, daemonFile: true }] },
    fd,
    clipboardAgent: hasClipboardAgent(launch.args),
    identicalArgs: onRam.args,
  };
}

/** What an agent's host needs to start a clone of `template`: its files on the shared data folder and its manifest. */
export function restoreFromOf(template: TemplateToLoad): VmRestoreFrom {
  return { stream: template.stream, ramFile: template.ramFile, manifest: template.manifest };
}
