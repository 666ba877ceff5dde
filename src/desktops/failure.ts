// Why a pool desktop failed, pure: the step it failed in (from the state it left), a message that always says
// something, the VM's exit reason and the last line its console printed. The shell gathers the facts.
import type { DesktopFailure, DesktopFailureStep, DesktopState } from '../contract/pools.js';
import type { DesktopEventType } from './lifecycle.js';

export interface FailureFacts {
  /** What the shell recorded when the step went wrong (a clone error, QEMU's refusal, a boot timeout). */
  lastError: string | null;
  /** The VM's exit reason, when its QEMU is gone. */
  vmExit: string | null;
  /** The console log's last few KiB, as read. */
  consoleTail: string | null;
}

const STEP_OF: Partial<Record<DesktopState, DesktopFailureStep>> = { provisioning: 'clone', booting: 'boot', ready: 'spare', resetting: 'reset' };

const STEP_TEXT: Record<DesktopFailureStep, string> = {
  clone: 'cloning its system disk',
  boot: 'its boot (before the guest helper said ready)',
  spare: 'waiting as a warm spare',
  reset: 're-cloning its system disk',
};

export const CONSOLE_LINE_MAX = 200;

/** The last printable, non-empty line of console output (escape sequences and control bytes removed). */
export function lastConsoleLine(tail: string | null): string | null {
  if (!tail) return null;
  const clean = tail.replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/\x1b[@-_]/g, '').replace(/[\x00-\x09\x0b-\x1f\x7f]/g, '');
  const line = clean.split('\n').map((l) => l.trim()).filter((l) => l.length > 0).pop();
  if (line === undefined) return null;
  return line.length > CONSOLE_LINE_MAX ? `${line.slice(0, CONSOLE_LINE_MAX - 1)}…` : line;
}

/** The failure record of a desktop that left `from` on `event` for failed. */
export function desktopFailure(from: DesktopState, event: DesktopEventType, facts: FailureFacts): DesktopFailure {
  const step = STEP_OF[from] ?? 'boot';
  const vmExit = facts.vmExit?.trim() || null;
  const consoleLine = lastConsoleLine(facts.consoleTail);
  let message = facts.lastError?.trim() || '';
  // The step is shown beside the message (CLI, console), so the message says only what happened.
  if (!message && event === 'vm-exited') message = `the VM exited: ${vmExit ?? 'QEMU left no exit reason'}`;
  if (!message) message = `${STEP_TEXT[step]} failed (${event}) without an error message; see \`ardesia vm log\` for the console`;
  return { step, message, vmExit, consoleLine };
}
