// Host checks: is KVM really usable here (a probe guest decides), and what the CPU offers.
export { hostCheck, type HostCheckOptions } from './host-check.js';
export { buildVerdict, decideAccel, formatHostReport, kvmUnusableReason, TCG_WARNING, type HostReport } from './verdict.js';
export { parseCpuInfo, parseNestedParameter, type CpuFacts, type CpuVendor } from './cpu.js';
export { runProbe, DEFAULT_PROBE_TIMEOUT_MS, type ProbeResult } from './probe-run.js';
export { buildProbeImage, PROBE_OK_MARKER } from './probe-image.js';
export { DEFAULT_QEMU_BINARY, QEMU_DEBIAN_PACKAGE, QemuMissingError } from './qemu-info.js';
