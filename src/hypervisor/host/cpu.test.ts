import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCpuInfo, parseNestedParameter } from './cpu.js';

// Real /proc/cpuinfo blocks (trimmed to the lines the parser reads, plus neighbours).
const INTEL_XEON_OLD_KERNEL = `processor	: 0
vendor_id	: GenuineIntel
cpu family	: 6
model		: 85
model name	: Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz
flags		: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid aperfmperf pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid dca sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch cpuid_fault epb cat_l3 cdp_l3 invpcid_single pti intel_ppin ssbd mba ibrs ibpb stibp tpr_shadow vnmi flexpriority ept vpid ept_ad fsgsbase tsc_adjust bmi1 hle avx2 smep bmi2 erms invpcid rtm cqm mpx rdt_a avx512f avx512dq rdseed adx smap clflushopt clwb intel_pt avx512cd avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local dtherm ida arat pln pts pku ospke md_clear flush_l1d
bugs		: cpu_meltdown spectre_v1 spectre_v2 spec_store_bypass l1tf mds swapgs taa itlb_multihit

processor	: 1
vendor_id	: GenuineIntel
`;

const INTEL_CORE_VMX_FLAGS_LINE = `processor	: 0
vendor_id	: GenuineIntel
cpu family	: 6
model		: 140
model name	: 11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz
flags		: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid aperfmperf tsc_known_freq pni pclmulqdq dtes64 monitor ds_cpl vmx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch cpuid_fault epb cat_l2 invpcid_single cdp_l2 ssbd ibrs ibpb stibp ibrs_enhanced tpr_shadow flexpriority ept vpid ept_ad fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid rdt_a avx512f avx512dq rdseed adx smap avx512ifma clflushopt clwb intel_pt avx512cd sha_ni avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves split_lock_detect dtherm ida arat pln pts hwp hwp_notify hwp_act_window hwp_epp hwp_pkg_req vnmi avx512vbmi umip pku ospke avx512_vbmi2 gfni vaes vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq rdpid movdiri movdir64b fsrm avx512_vp2intersect md_clear ibt flush_l1d arch_capabilities
vmx flags	: vnmi preemption_timer posted_intr invvpid ept_x_only ept_ad ept_1gb flexpriority apicv tsc_offset vtpr mtf vapic ept vpid unrestricted_guest vapic_reg vid ple pml ept_mode_based_exec tsc_scaling
bugs		: spectre_v1 spectre_v2 spec_store_bypass swapgs eibrs_pbrsb
`;

const AMD_EPYC_BARE_METAL = `processor	: 0
vendor_id	: AuthenticAMD
cpu family	: 23
model		: 49
model name	: AMD EPYC 7302 16-Core Processor
flags		: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl nonstop_tsc cpuid extd_apicid aperfmperf rapl pni pclmulqdq monitor ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes xsave avx f16c rdrand lahf_lm cmp_legacy svm extapic cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw ibs skinit wdt tce topoext perfctr_core perfctr_nb bpext perfctr_llc mwaitx cpb cat_l3 cdp_l3 hw_pstate ssbd mba ibrs ibpb stibp vmmcall fsgsbase bmi1 avx2 smep bmi2 cqm rdt_a rdseed adx smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local clzero irperf xsaveerptr rdpru wbnoinvd amd_ppin arat npt lbrv svm_lock nrip_save tsc_scale vmcb_clean flushbyasid decodeassists pausefilter pfthreshold avic v_vmsave_vmload vgif v_spec_ctrl umip rdpid overflow_recov succor smca sme sev sev_es
bugs		: sysret_ss_attrs spectre_v1 spectre_v2 spec_store_bypass retbleed
`;

const INTEL_CLOUD_VM_NO_VMX = `processor	: 0
vendor_id	: GenuineIntel
cpu family	: 6
model		: 79
model name	: Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz
flags		: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology cpuid tsc_known_freq pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand hypervisor lahf_lm abm cpuid_fault invpcid_single pti fsgsbase bmi1 hle avx2 smep bmi2 erms invpcid rtm rdseed adx xsaveopt
bugs		: cpu_meltdown spectre_v1 spectre_v2 spec_store_bypass l1tf mds swapgs taa itlb_multihit mmio_stale_data
`;

// The development machine: an AMD EPYC guest of a PVM host (hypervisor flag, no svm).
const THIS_MACHINE = `
processor	: 0
vendor_id	: AuthenticAMD
cpu family	: 25
model		: 1
model name	: AMD EPYC
stepping	: 1
microcode	: 0x1000065
cpu MHz		: 2445.406
cache size	: 512 KB
physical id	: 0
siblings	: 2
core id		: 0
cpu cores	: 2
apicid		: 0
initial apicid	: 0
fpu		: yes
fpu_exception	: yes
cpuid level	: 16
wp		: yes
flags		: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl xtopology nonstop_tsc cpuid extd_apicid tsc_known_freq pni pclmulqdq ssse3 fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand hypervisor lahf_lm cmp_legacy cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw topoext ssbd ibrs ibpb stibp vmmcall fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid rdseed adx smap clflushopt clwb sha_ni xsaveopt xsavec xgetbv1 xsaves clzero xsaveerptr wbnoinvd arat umip pku ospke vaes vpclmulqdq rdpid fsrm
bugs		: sysret_ss_attrs spectre_v1 spectre_v2 spec_store_bypass srso ibpb_no_ret spectre_v2_user
bogomips	: 4890.81
TLB size	: 2560 4K pages
clflush size	: 64
cache_alignment	: 64
address sizes	: 48 bits physical, 48 bits virtual
power management:
`;

const table = [
  { name: 'Intel Xeon, ept in flags (older kernel)', text: INTEL_XEON_OLD_KERNEL, vendor: 'GenuineIntel', model: 'Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz', vmx: true, svm: false, nestedPaging: 'ept', inVm: false },
  { name: 'Intel Core, ept in "vmx flags" (kernel ≥ 5.9)', text: INTEL_CORE_VMX_FLAGS_LINE, vendor: 'GenuineIntel', model: '11th Gen Intel(R) Core(TM) i7-1165G7 @ 2.80GHz', vmx: true, svm: false, nestedPaging: 'ept', inVm: false },
  { name: 'AMD EPYC with svm and npt', text: AMD_EPYC_BARE_METAL, vendor: 'AuthenticAMD', model: 'AMD EPYC 7302 16-Core Processor', vmx: false, svm: true, nestedPaging: 'npt', inVm: false },
  { name: 'Intel cloud VM without vmx', text: INTEL_CLOUD_VM_NO_VMX, vendor: 'GenuineIntel', model: 'Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz', vmx: false, svm: false, nestedPaging: null, inVm: true },
  { name: 'this machine (PVM guest)', text: THIS_MACHINE, vendor: 'AuthenticAMD', model: 'AMD EPYC', vmx: false, svm: false, nestedPaging: null, inVm: true },
  { name: 'unknown vendor', text: 'vendor_id\t: HygonGenuine\nmodel name\t: Hygon C86\nflags\t\t: fpu svm npt\n', vendor: 'other', model: 'Hygon C86', vmx: false, svm: true, nestedPaging: 'npt', inVm: false },
  { name: 'empty text', text: '', vendor: 'other', model: 'unknown', vmx: false, svm: false, nestedPaging: null, inVm: false },
] as const;

for (const row of table) {
  test(`parseCpuInfo: ${row.name}`, () => {
    const facts = parseCpuInfo(row.text);
    assert.equal(facts.vendor, row.vendor);
    assert.equal(facts.model, row.model);
    assert.equal(facts.vmx, row.vmx);
    assert.equal(facts.svm, row.svm);
    assert.equal(facts.nestedPaging, row.nestedPaging);
    assert.equal(facts.shadowPaging, row.nestedPaging === null);
    assert.equal(facts.inVm, row.inVm);
  });
}

test('parseCpuInfo keeps an unknown vendor id', () => {
  assert.equal(parseCpuInfo('vendor_id\t: HygonGenuine\n').vendorId, 'HygonGenuine');
});

test('parseCpuInfo: ept without vmx is not nested paging', () => {
  assert.equal(parseCpuInfo('vendor_id\t: GenuineIntel\nflags\t\t: fpu ept\n').nestedPaging, null);
});

test('parseNestedParameter reads Y/N, 1/0 and tolerates junk', () => {
  const rows: Array<[string | null, boolean | null]> = [['Y\n', true], ['N\n', false], ['1\n', true], ['0', false], ['maybe', null], [null, null]];
  for (const [text, expected] of rows) assert.equal(parseNestedParameter(text), expected, String(text));
});
