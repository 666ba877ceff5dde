// A QEMU launch as the start needs it: resuming a saved state, a restore template's clone, a live migration's
// destination, a template's own RAM on a memfd; the launch as built otherwise.
import type { VmSpec } from '../contract/vm.js';
import type { BackingChains, QemuLaunch } from '../hypervisor/qemu/argv.js';
import type { IncomingState } from '../hypervisor/vm-runtime.js';
import type { StartOptions, StateToResume } from './vm-manager-options.js';
import { diskIdentities, launchForMigration, launchIdentity, launchWithState, savedStateVerify } from './vm-saved-state.js';
import { cloneIdentity, launchFromTemplate, launchWithSharedRam } from './vm-template-state.js';

export interface LaunchContext extends Pick<StartOptions, 'fromTemplate' | 'migrateIn' | 'templateRam'> {
  runtimeDir: string;
  accel: 'kvm' | 'tcg';
  qemuVersion: string;
  chains: BackingChains;
  resume?: StateToResume;
}

export async function launchVariant(spec: VmSpec, launch: QemuLaunch, c: LaunchContext): Promise<{ launch: QemuLaunch; incoming?: IncomingState }> {
  if (c.resume) {
    // Checked before QEMU starts: the launch must be identical and the disks as they were.
    const now = launchIdentity(spec, launch, c.runtimeDir, c.accel, c.qemuVersion, await diskIdentities(spec));
    const restoring = launchWithState(launch, c.resume.manifest, now, c.resume.files.stream, spec.name);
    if (!c.resume.verified) await savedStateVerify(c.resume.files, c.resume.manifest, spec.name);
    return { launch: restoring.launch, incoming: { fd: restoring.fd, clipboardAgent: restoring.clipboardAgent, identicalArgs: restoring.identicalArgs } };
  }
  if (c.fromTemplate) {
    const clone = cloneIdentity(spec, launch, c.runtimeDir, c.accel, c.qemuVersion, c.chains);
    const restoring = launchFromTemplate(launch, c.fromTemplate, clone, spec.name, spec.memoryMiB);
    return { launch: restoring.launch, incoming: { fd: restoring.fd, clipboardAgent: restoring.clipboardAgent, identicalArgs: restoring.identicalArgs, sharedRam: true } };
  }
  if (c.migrateIn) {
    const arriving = launchForMigration(launch);
    return { launch: arriving.launch, incoming: { live: c.migrateIn, clipboardAgent: arriving.clipboardAgent, identicalArgs: arriving.identicalArgs } };
  }
  if (c.templateRam) return { launch: launchWithSharedRam(launch, c.templateRam, spec.memoryMiB, true) };
  return { launch };
}
