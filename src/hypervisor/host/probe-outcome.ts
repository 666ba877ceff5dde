// Turns what a probe run left behind (serial text, QEMU's stderr, how it ended) into a
// verdict with a reason a person can act on. Pure, so every failure shape has a table test.
import { PROBE_OK_MARKER, PROBE_STAGES } from './probe-image.js';

export interface ProbeRunOutput {
  serial: string;
  stderr: string;
  /** How QEMU ended; null while it was still running when we stopped it. */
  exit: { code: number | null; signal: string | null } | null;
  timedOut: boolean;
  timeoutMs: number;
}

export interface ProbeOutcome {
  ok: boolean;
  /** The last marker the guest printed, or null when it printed none. */
  stage: (typeof PROBE_STAGES)[number]['marker'] | null;
  detail: string;
}

const KVM_INTERNAL_ERROR = 'KVM internal error';

function lastStageIndex(serial: string): number {
  let last = -1;
  PROBE_STAGES.forEach((stage, index) => {
    if (serial.includes(stage.marker)) last = index;
  });
  return last;
}

/** The first stderr line that says what went wrong; QEMU warnings only when nothing else. */
export function reasonLine(stderr: string): string | null {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.find((l) => !/\bwarning:/i.test(l)) ?? lines[0] ?? null;
}

function progressText(index: number): string {
  if (index < 0) return 'before the guest printed anything';
  const reached = PROBE_STAGES[index]!.reached;
  const next = PROBE_STAGES[index + 1];
  return next ? `after the guest reached ${reached}, at its next step (${next.reached})` : `after the guest reached ${reached}`;
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

function failureDetail(run: ProbeRunOutput, index: number): string {
  if (run.stderr.includes(KVM_INTERNAL_ERROR)) {
    const line = run.stderr.split('\n').find((l) => l.includes(KVM_INTERNAL_ERROR))!.trim();
    const emulation = run.stderr.includes('emulation failure') ? ', emulation failure' : '';
    return `KVM stopped the guest: "${line}${emulation}" ${progressText(index)}`;
  }
  if (run.exit !== null && !run.timedOut) {
    const how = run.exit.signal ? `was killed by ${run.exit.signal}` : `exited with status ${run.exit.code}`;
    const line = reasonLine(run.stderr);
    return `QEMU ${how}${line ? `: ${line}` : ''} (${progressText(index)})`;
  }
  if (index < 0) return `no output within ${seconds(run.timeoutMs)} (the vCPU made no progress)`;
  return `the guest stopped making progress within ${seconds(run.timeoutMs)} ${progressText(index)}`;
}

/** Classifies one probe run; ok only when the guest printed its final marker. */
export function classifyProbeRun(run: ProbeRunOutput): ProbeOutcome {
  const index = lastStageIndex(run.serial);
  const stage = index >= 0 ? PROBE_STAGES[index]!.marker : null;
  if (run.serial.includes(PROBE_OK_MARKER)) {
    return { ok: true, stage, detail: 'the probe guest ran protected mode, long mode, an exception and a timer interrupt' };
  }
  return { ok: false, stage, detail: failureDetail(run, index) };
}
