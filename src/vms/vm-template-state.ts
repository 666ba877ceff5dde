// A VM started as a clone of a restore template (pool start mode `restore`): the launch checked against the
// template's manifest (saved-state/template.ts) before QEMU starts, then the state handed as an inherited fd and
// loaded with `-incoming defer`, as a resumed VM's own state is (vm-saved-state.ts). The template is never consumed.
import { ArdesiaError } from '../contract/errors.js';
import type { VmSpec } from '../contract/vm.js';
import type { QemuLaunch } from '../hypervisor/qemu/argv.js';
import { FIRST_HANDED_FD } from '../hypervisor/qemu/handed-files.js';
import type { BackingChains } from '../hypervisor/qemu/storage-args.js';
import { hasClipboardAgent, withoutClipboardAgent } from '../hypervisor/saved-state/clipboard-agent.js';
import { machineOf } from '../hypervisor/saved-state/manifest.js';
import { type CloneIdentity, type TemplateManifest, templateCloneProblems, templateDevicesFingerprint } from '../hypervisor/saved-state/template.js';

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

/** The clone's launch: refused with every difference, else the same launch with the state as the last fd and `-incoming defer`. */
export function launchFromTemplate(launch: QemuLaunch, template: TemplateManifest, clone: CloneIdentity, stream: string, vm: string): { launch: QemuLaunch; fd: number; clipboardAgent: boolean; identicalArgs: string[] } {
  const problems = templateCloneProblems(template, clone);
  if (problems.length > 0) throw new ArdesiaError('VM_STATE_MISMATCH', `vm ${vm}: template ${template.key} does not fit this desktop: ${problems.join('; ')}`, { problems });
  const fd = FIRST_HANDED_FD + launch.handed.length;
  return {
    launch: { ...launch, args: [...withoutClipboardAgent(launch.args), '-incoming', 'defer'], handed: [...launch.handed, { path: stream, writable: false, fd, daemonFile: true }] },
    fd,
    clipboardAgent: hasClipboardAgent(launch.args),
    identicalArgs: launch.args,
  };
}
