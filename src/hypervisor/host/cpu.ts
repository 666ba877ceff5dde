// What the CPU offers for virtualization, read from /proc/cpuinfo and the KVM module
// parameters. Pure: the I/O that fetches the text lives in host-check.ts.

export type CpuVendor = 'GenuineIntel' | 'AuthenticAMD' | 'other';

export interface CpuFacts {
  vendor: CpuVendor;
  /** The vendor_id as the kernel printed it (kept when vendor is 'other'). */
  vendorId: string;
  model: string;
  vmx: boolean;
  svm: boolean;
  /** Hardware nested paging (Intel EPT, AMD NPT); null means KVM would fall back to shadow paging. */
  nestedPaging: 'ept' | 'npt' | null;
  shadowPaging: boolean;
  /** The kernel sets the `hypervisor` flag when it runs inside a virtual machine. */
  inVm: boolean;
}

/** The fields of the first processor block, keyed by name ("flags", "vmx flags", …). */
function firstProcessorFields(cpuinfo: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of cpuinfo.split('\n')) {
    if (line.trim() === '') {
      if (fields.size > 0) break; // the first block is enough: flags are the same on every core
      continue;
    }
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    if (!fields.has(key)) fields.set(key, line.slice(colon + 1).trim());
  }
  return fields;
}

function words(text: string | undefined): Set<string> {
  return new Set((text ?? '').split(/\s+/).filter((w) => w !== ''));
}

function vendorOf(vendorId: string): CpuVendor {
  return vendorId === 'GenuineIntel' || vendorId === 'AuthenticAMD' ? vendorId : 'other';
}

/** Parses /proc/cpuinfo text (x86). Kernels since 5.9 list EPT in a separate "vmx flags" line. */
export function parseCpuInfo(cpuinfo: string): CpuFacts {
  const fields = firstProcessorFields(cpuinfo);
  const flags = words(fields.get('flags'));
  const vmxFlags = words(fields.get('vmx flags'));
  const vendorId = fields.get('vendor_id') ?? '';
  const vmx = flags.has('vmx');
  const svm = flags.has('svm');
  let nestedPaging: CpuFacts['nestedPaging'] = null;
  if (vmx && (flags.has('ept') || vmxFlags.has('ept'))) nestedPaging = 'ept';
  else if (svm && flags.has('npt')) nestedPaging = 'npt';
  return {
    vendor: vendorOf(vendorId),
    vendorId: vendorId || 'unknown',
    model: fields.get('model name') ?? 'unknown',
    vmx,
    svm,
    nestedPaging,
    shadowPaging: nestedPaging === null,
    inVm: flags.has('hypervisor'),
  };
}

/** Parses /sys/module/kvm_{intel,amd}/parameters/nested ("Y"/"N" or "1"/"0"); null if unreadable. */
export function parseNestedParameter(text: string | null): boolean | null {
  if (text === null) return null;
  const value = text.trim().toUpperCase();
  if (value === 'Y' || value === '1') return true;
  if (value === 'N' || value === '0') return false;
  return null;
}

/** The KVM vendor modules we know, with what each means for guests. */
export const KVM_MODULES = {
  kvm_intel: 'Intel VT-x',
  kvm_amd: 'AMD-V (SVM)',
  kvm_pvm: 'PVM: a paravirtualised KVM for hosts that are themselves VMs, made for PVM-aware guest kernels',
} as const;
export type KvmModule = keyof typeof KVM_MODULES;
