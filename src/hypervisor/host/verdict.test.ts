import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArdesiaError } from '../../contract/errors.js';
import { buildVerdict, decideAccel, formatHostReport, type HostReport, TCG_WARNING } from './verdict.js';

const probeOk = { ran: true, ok: true, detail: 'the probe guest ran', ms: 120 };
const probeFailed = { ran: true, ok: false, detail: 'KVM stopped the guest: "KVM internal error. Suberror: 1, emulation failure"', ms: 180 };
const devOk = { exists: true, accessible: true };

const kvmHost = { accel: 'kvm', probe: probeOk, devKvm: devOk } as const;
const failedProbeHost = { accel: 'tcg', probe: probeFailed, devKvm: devOk } as const;
const noDevKvm = { accel: 'tcg', probe: { ran: false, ok: false, detail: '/dev/kvm does not exist', ms: 0 }, devKvm: { exists: false, accessible: false } } as const;
const deniedDevKvm = { accel: 'tcg', probe: { ran: false, ok: false, detail: '/dev/kvm is not read-writable', ms: 0 }, devKvm: { exists: true, accessible: false, error: 'EACCES' } } as const;

test('decideAccel table', () => {
  const rows = [
    { requested: 'auto', report: kvmHost, expected: 'kvm' },
    { requested: 'auto', report: failedProbeHost, expected: 'tcg' },
    { requested: 'auto', report: noDevKvm, expected: 'tcg' },
    { requested: 'kvm', report: kvmHost, expected: 'kvm' },
    { requested: 'tcg', report: kvmHost, expected: 'tcg' },
    { requested: 'tcg', report: failedProbeHost, expected: 'tcg' },
    { requested: 'tcg', report: noDevKvm, expected: 'tcg' },
  ] as const;
  for (const row of rows) assert.equal(decideAccel(row.requested, row.report), row.expected, `${row.requested} on ${row.report.accel}`);
});

test('decideAccel: kvm requested where it is unusable throws ACCEL_UNAVAILABLE with the reason', () => {
  const rows = [
    { report: failedProbeHost, reason: /the KVM probe failed: KVM stopped the guest: "KVM internal error/ },
    { report: noDevKvm, reason: /\/dev\/kvm does not exist/ },
    { report: deniedDevKvm, reason: /\/dev\/kvm is not read-writable \(EACCES\)/ },
  ];
  for (const row of rows) {
    assert.throws(() => decideAccel('kvm', row.report), (err: unknown) => {
      assert.ok(err instanceof ArdesiaError);
      assert.equal(err.code, 'ACCEL_UNAVAILABLE');
      assert.match(err.message, row.reason);
      return true;
    });
  }
});

test('TCG_WARNING says TCG is slow and is no isolation boundary', () => {
  assert.match(TCG_WARNING, /slower/);
  assert.match(TCG_WARNING, /not an isolation boundary/);
  assert.match(TCG_WARNING, /runs as the QEMU process/);
  assert.match(TCG_WARNING, /sandbox/);
});

function report(overrides: Partial<Omit<HostReport, 'verdict'>>): HostReport {
  const partial: Omit<HostReport, 'verdict'> = {
    cpu: { vendor: 'GenuineIntel', model: 'Intel(R) Xeon(R) Gold 6130', vmx: true, svm: false, nestedPaging: 'ept', shadowPaging: false, inVm: false },
    nested: true, kvmModules: ['kvm_intel'], devKvm: devOk, probe: probeOk,
    qemu: { binary: 'qemu-system-x86_64', version: '7.2.22' }, accel: 'kvm', ...overrides,
  };
  return { ...partial, verdict: buildVerdict(partial) };
}

test('formatHostReport on a working KVM host', () => {
  const text = formatHostReport(report({}));
  assert.match(text, /^CPU: GenuineIntel Intel\(R\) Xeon\(R\) Gold 6130 — VMX: yes, SVM: no, nested paging: EPT, inside a VM: no$/m);
  assert.match(text, /^Nested virtualization: enabled$/m);
  assert.match(text, /^KVM probe: OK — .* \(120 ms\)$/m);
  assert.match(text, /^Accelerator: KVM \(hardware virtualization\)$/m);
  assert.match(text, /KVM works/);
  assert.doesNotMatch(text, /TCG/);
});

test('formatHostReport on a PVM guest is loud about TCG and says why', () => {
  const text = formatHostReport(report({
    cpu: { vendor: 'AuthenticAMD', model: 'AMD EPYC', vmx: false, svm: false, nestedPaging: null, shadowPaging: true, inVm: true },
    nested: null, kvmModules: ['kvm_pvm'], probe: probeFailed, accel: 'tcg',
  }));
  assert.match(text, /VMX: no, SVM: no, nested paging: none \(KVM would use shadow paging\), inside a VM: yes/);
  assert.match(text, /^KVM probe: FAILED — KVM stopped the guest/m);
  assert.match(text, /^Accelerator: TCG \(software emulation\)$/m);
  assert.match(text, /KVM IS NOT USABLE ON THIS HOST/);
  assert.match(text, /PVM/);
  assert.ok(text.includes(TCG_WARNING));
});

test('the verdict names the Debian package when QEMU is missing', () => {
  const r = report({ qemu: { binary: 'qemu-system-x86_64', version: null }, accel: 'tcg', probe: { ran: false, ok: false, detail: 'not installed', ms: 0 } });
  assert.match(r.verdict, /apt-get install qemu-system-x86/);
  assert.match(formatHostReport(r), /^QEMU: not found \(qemu-system-x86_64\) — install the Debian package qemu-system-x86$/m);
});

test('a VM without VMX is told to enable nested virtualization; bare metal without it, the firmware', () => {
  const cpu = { vendor: 'GenuineIntel', model: 'Xeon', vmx: false, svm: false, nestedPaging: null, shadowPaging: true } as const;
  assert.match(report({ cpu: { ...cpu, inVm: true }, kvmModules: [], accel: 'tcg', devKvm: noDevKvm.devKvm, probe: noDevKvm.probe }).verdict, /enable nested virtualization on the outer hypervisor/);
  assert.match(report({ cpu: { ...cpu, inVm: false }, kvmModules: [], accel: 'tcg', devKvm: noDevKvm.devKvm, probe: noDevKvm.probe }).verdict, /enable VT-x\/AMD-V in the firmware/);
});
