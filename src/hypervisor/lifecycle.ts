// The VM lifecycle as a transition table: state + event → next state. Pure; illegal moves are refused.
import type { VmState } from '../contract/vm.js';

export type VmEvent =
  | 'start' // operator asked to start
  | 'launched' // QEMU is up, QMP attached, vCPUs running
  | 'launch-failed'
  | 'paused' // QMP STOP
  | 'resumed' // QMP RESUME
  | 'stop' // operator asked to stop (power button or force)
  | 'stop-abandoned' // graceful stop timed out; the guest is still running
  | 'exited' // the QEMU process is gone
  | 'save' // its state is being saved to a file (vm send, stop --to-disk); QEMU quits after
  | 'save-failed'; // the save failed: the VM is left paused (and resumed if it ran)

const TRANSITIONS: Record<VmState, Partial<Record<VmEvent, VmState>>> = {
  stopped: { start: 'starting', exited: 'stopped' },
  starting: { launched: 'running', 'launch-failed': 'stopped', exited: 'stopped', paused: 'starting', resumed: 'starting' },
  running: { paused: 'paused', resumed: 'running', stop: 'stopping', exited: 'stopped', save: 'stopping' },
  paused: { resumed: 'running', paused: 'paused', stop: 'stopping', exited: 'stopped', save: 'stopping' },
  stopping: { exited: 'stopped', 'stop-abandoned': 'running', paused: 'stopping', resumed: 'stopping', stop: 'stopping', 'save-failed': 'paused' },
};

export function vmTransition(state: VmState, event: VmEvent): VmState | undefined {
  return TRANSITIONS[state][event];
}

// Predicates shared by the API's checks and (later) the UI's buttons.
export const canStart = (s: VmState): boolean => vmTransition(s, 'start') !== undefined;
export const canStop = (s: VmState): boolean => s === 'running' || s === 'paused' || s === 'stopping';
export const canPause = (s: VmState): boolean => s === 'running';
export const canUnpause = (s: VmState): boolean => s === 'paused';
export const canSaveState = (s: VmState): boolean => vmTransition(s, 'save') !== undefined;
export const canReset = (s: VmState): boolean => s === 'running' || s === 'paused';
export const isAlive = (s: VmState): boolean => s !== 'stopped';
