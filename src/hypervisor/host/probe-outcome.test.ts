import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyProbeRun, reasonLine, type ProbeRunOutput } from './probe-outcome.js';

const PNI_WARNING = "qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.01H:ECX.pni [bit 0]\n";
const base: ProbeRunOutput = { serial: '', stderr: '', exit: null, timedOut: false, timeoutMs: 3000 };

const table: Array<{ name: string; run: Partial<ProbeRunOutput>; ok: boolean; stage: string | null; detail: RegExp }> = [
  {
    name: 'all markers, isa-debug-exit status 33',
    run: { serial: 'ARDESIA-KVM-PROBE-PM\nARDESIA-KVM-PROBE-LM\nARDESIA-KVM-PROBE-BP\nARDESIA-KVM-PROBE-IRQ\nARDESIA-KVM-PROBE-OK\n', exit: { code: 33, signal: null } },
    ok: true, stage: 'ARDESIA-KVM-PROBE-OK', detail: /timer interrupt/,
  },
  {
    name: 'KVM internal error at int3 (this PVM host)',
    run: {
      serial: 'ARDESIA-KVM-PROBE-PM\nARDESIA-KVM-PROBE-LM\n',
      stderr: `${PNI_WARNING}KVM internal error. Suberror: 1\nextra data[0]: 0x0000000000000001\nemulation failure\nRAX=0000000000100234\n`,
      exit: { code: null, signal: 'SIGKILL' },
    },
    ok: false, stage: 'ARDESIA-KVM-PROBE-LM', detail: /^KVM stopped the guest: "KVM internal error\. Suberror: 1, emulation failure" after the guest reached 64-bit long mode with paging, at its next step \(a breakpoint exception/,
  },
  {
    name: 'QEMU aborts on an MSR before any output',
    run: { stderr: 'qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69\nqemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion failed.\n', exit: { code: null, signal: 'SIGABRT' } },
    ok: false, stage: null, detail: /^QEMU was killed by SIGABRT: qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69 \(before the guest printed anything\)$/,
  },
  {
    name: 'QEMU exits: KVM cannot initialise',
    run: { stderr: 'Could not access KVM kernel module: No such file or directory\nqemu-system-x86_64: failed to initialize kvm: No such file or directory\n', exit: { code: 1, signal: null } },
    ok: false, stage: null, detail: /^QEMU exited with status 1: Could not access KVM kernel module/,
  },
  {
    name: 'silence until the timeout',
    run: { stderr: PNI_WARNING, timedOut: true, exit: { code: null, signal: 'SIGKILL' } },
    ok: false, stage: null, detail: /^no output within 3 s \(the vCPU made no progress\)$/,
  },
  {
    name: 'stuck waiting for the timer interrupt',
    run: { serial: 'ARDESIA-KVM-PROBE-PM\nARDESIA-KVM-PROBE-LM\nARDESIA-KVM-PROBE-BP\n', timedOut: true, timeoutMs: 2500, exit: { code: null, signal: 'SIGKILL' } },
    ok: false, stage: 'ARDESIA-KVM-PROBE-BP', detail: /^the guest stopped making progress within 2\.5 s after the guest reached a breakpoint exception through its IDT, at its next step \(a timer interrupt\)$/,
  },
];

for (const row of table) {
  test(`classifyProbeRun: ${row.name}`, () => {
    const outcome = classifyProbeRun({ ...base, ...row.run });
    assert.equal(outcome.ok, row.ok);
    assert.equal(outcome.stage, row.stage);
    assert.match(outcome.detail, row.detail);
  });
}

test('reasonLine prefers an error over QEMU warnings, and falls back to a warning', () => {
  assert.equal(reasonLine(`${PNI_WARNING}boom\n`), 'boom');
  assert.equal(reasonLine(PNI_WARNING), PNI_WARNING.trim());
  assert.equal(reasonLine('\n'), null);
});
