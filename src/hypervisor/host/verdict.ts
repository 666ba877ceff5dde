// The host report's types and the pure decisions on it: which accelerator a VM gets, the
// verdict paragraph, the human text of `ardesia host check`.
import { ArdesiaError } from '../../contract/errors.js';
import type { CpuVendor, KvmModule } from './cpu.js';
import { KVM_MODULES } from './cpu.js';
import { QEMU_DEBIAN_PACKAGE } from './qemu-info.js';

export interface HostReport {
  cpu: {
    vendor: CpuVendor;
    model: string;
    vmx: boolean;
    svm: boolean;
    nestedPaging: 'ept' | 'npt' | null;
    shadowPaging: boolean;
    inVm: boolean;
  };
  /** kvm_intel/kvm_amd "nested" parameter; null when neither module is loaded. */
  nested: boolean | null;
  /** Loaded KVM vendor modules (kvm_intel, kvm_amd, kvm_pvm). */
  kvmModules: KvmModule[];
  devKvm: { exists: boolean; accessible: boolean; error?: string };
  probe: { ran: boolean; ok: boolean; detail: string; ms: number };
  /** version is null when the binary is missing. */
  qemu: { binary: string; version: string | null };
  accel: 'kvm' | 'tcg';
  verdict: string;
}

export const TCG_WARNING =
  'TCG emulates every guest instruction in software, so guests run many times slower than under KVM. ' +
  'TCG is also not an isolation boundary: a guest that escapes the emulator runs as the QEMU process on this host, ' +
  'so do not run untrusted guests under TCG without a sandbox around QEMU.';

/** Why KVM cannot be used, in one sentence, or null when it can. */
export function kvmUnusableReason(report: Pick<HostReport, 'accel' | 'probe' | 'devKvm'>): string | null {
  if (report.accel === 'kvm') return null;
  if (!report.devKvm.exists) return '/dev/kvm does not exist (no KVM module is loaded)';
  if (!report.devKvm.accessible) return `/dev/kvm is not read-writable${report.devKvm.error ? ` (${report.devKvm.error})` : ''}`;
  if (!report.probe.ran) return `the KVM probe did not run: ${report.probe.detail}`;
  return `the KVM probe failed: ${report.probe.detail}`;
}

/** The accelerator a VM gets; 'kvm' requested on a host where it does not work is an error, not a silent TCG. */
export function decideAccel(requested: 'auto' | 'kvm' | 'tcg', report: Pick<HostReport, 'accel' | 'probe' | 'devKvm'>): 'kvm' | 'tcg' {
  if (requested === 'tcg') return 'tcg';
  const reason = kvmUnusableReason(report);
  if (reason === null) return 'kvm';
  if (requested === 'auto') return 'tcg';
  throw new ArdesiaError('ACCEL_UNAVAILABLE', `KVM was requested but is not usable on this host: ${reason}`, { reason });
}

/** Advice for the usual causes, from the CPU facts. */
function adviceFor(report: Omit<HostReport, 'verdict'>): string {
  const { cpu } = report;
  if (report.kvmModules.includes('kvm_pvm') && !cpu.vmx && !cpu.svm) {
    return 'This host is itself a VM and offers only PVM, a paravirtualised KVM made for PVM-aware guest kernels; ordinary guests fail on it. Run Ardesia on a host with VT-x/AMD-V (or nested virtualization enabled on the outer hypervisor) to get KVM.';
  }
  if (cpu.inVm && !cpu.vmx && !cpu.svm) {
    return 'This host is a VM whose CPU does not expose VMX/SVM: enable nested virtualization on the outer hypervisor.';
  }
  if (!cpu.vmx && !cpu.svm) return 'The CPU shows neither VMX nor SVM: enable VT-x/AMD-V in the firmware settings.';
  if (!report.devKvm.exists) return `Load the KVM module (modprobe ${cpu.vmx ? 'kvm_intel' : 'kvm_amd'}).`;
  if (!report.devKvm.accessible) return 'Run Ardesia as root or as a member of the kvm group.';
  return 'Check the kernel log (dmesg) for KVM errors.';
}

/** One paragraph; loud when the answer is TCG. */
export function buildVerdict(report: Omit<HostReport, 'verdict'>): string {
  if (report.qemu.version === null) {
    return `QEMU IS NOT INSTALLED: ${report.qemu.binary} was not found. Install the Debian package ${QEMU_DEBIAN_PACKAGE} (apt-get install ${QEMU_DEBIAN_PACKAGE}); Ardesia cannot run VMs without it.`;
  }
  if (report.accel === 'kvm') {
    const paging = report.cpu.shadowPaging ? ' KVM uses shadow paging here (no EPT/NPT), so memory-heavy guests are slower.' : '';
    return `KVM works: the probe guest ran under KVM in ${report.probe.ms} ms. VMs with accel auto use KVM.${paging}`;
  }
  return `KVM IS NOT USABLE ON THIS HOST: VMs run under TCG (software emulation). Why: ${kvmUnusableReason(report)}. ${adviceFor(report)} ${TCG_WARNING}`;
}

const yesNo = (value: boolean) => (value ? 'yes' : 'no');

function nestedText(report: HostReport): string {
  const modules = report.kvmModules.length > 0 ? report.kvmModules.map((m) => `${m} (${KVM_MODULES[m]})`).join(', ') : 'none loaded';
  const nested = report.nested === null ? 'unknown (no kvm_intel/kvm_amd module)' : report.nested ? 'enabled' : 'disabled';
  return `KVM modules: ${modules}\nNested virtualization: ${nested}`;
}

function probeText(probe: HostReport['probe']): string {
  if (!probe.ran) return `KVM probe: not run — ${probe.detail}`;
  return probe.ok ? `KVM probe: OK — ${probe.detail} (${probe.ms} ms)` : `KVM probe: FAILED — ${probe.detail} (${probe.ms} ms)`;
}

/** The human text of `ardesia host check`. */
export function formatHostReport(r: HostReport): string {
  const paging = r.cpu.nestedPaging ? r.cpu.nestedPaging.toUpperCase() : 'none (KVM would use shadow paging)';
  const devKvm = !r.devKvm.exists ? 'missing' : r.devKvm.accessible ? 'present, read-writable' : `present, not accessible${r.devKvm.error ? ` (${r.devKvm.error})` : ''}`;
  const qemu = r.qemu.version === null ? `not found (${r.qemu.binary}) — install the Debian package ${QEMU_DEBIAN_PACKAGE}` : `${r.qemu.binary} ${r.qemu.version}`;
  return [
    `CPU: ${r.cpu.vendor} ${r.cpu.model} — VMX: ${yesNo(r.cpu.vmx)}, SVM: ${yesNo(r.cpu.svm)}, nested paging: ${paging}, inside a VM: ${yesNo(r.cpu.inVm)}`,
    nestedText(r),
    `/dev/kvm: ${devKvm}`,
    `QEMU: ${qemu}`,
    probeText(r.probe),
    `Accelerator: ${r.accel === 'kvm' ? 'KVM (hardware virtualization)' : 'TCG (software emulation)'}`,
    '',
    r.verdict,
  ].join('\n');
}
