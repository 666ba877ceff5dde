// A VM placed on another host than the controller's runs there under that host's agent: the VM manager records its
// desired state and reads its agent's reports; the link itself is cluster/remote-vms.ts, behind this interface.
import type { Readable } from 'node:stream';
import type { VmConfined, VmRestoreFrom } from '../contract/agent.js';
import type { VmSpec, VmStatus } from '../contract/vm.js';
import type { SavedStateManifest } from '../hypervisor/saved-state/manifest.js';
import type { VmRecord } from '../store/vms.js';
import type { SavedStateFiles } from './vm-saved-state.js';

/** Saved states between the controller's host and agents' hosts (cluster/remote-states.ts). */
export interface RemoteStateDriver {
  /** vm send of a VM on `host` (saved there first if it runs): its state from there, sealed with the site's key; deleted
   *  there once all of it went out. */
  send(host: string, vm: string): Promise<Readable>;
  /** A state saved on the controller's host, into the host a start placed the VM on (checked there; its start there
   *  resumes it); resolves once it is stored there. */
  push(host: string, spec: VmSpec, files: SavedStateFiles, manifest: SavedStateManifest): Promise<void>;
}

export interface RemoteStartOptions {
  restoreFrom?: VmRestoreFrom;
  beforeSend?: () => Promise<void>;
  confined?: VmConfined;
}

export interface RemoteVmDriver {
  /** The controller's own host, by name. */
  readonly localHost: string;
  /** Whether a VM on this host runs under a remote agent (false for the controller's own host). */
  isRemote(host: string | null): host is string;
  /** Throws AGENT_NOT_LINKED when the host's agent has no link now: nothing is started in its place. */
  requireLinked(host: string): void;
  /** Records desired=running with the next generation, sends it, and waits for the agent's report of it; with
   *  `restoreFrom`, the VM starts as a clone of that restore template; `beforeSend` runs once the generation is
   *  recorded, before it is sent (a saved state moved to the host first); `confined`: a VM owner's start. */
  start(name: string, spec: VmSpec, host: string, opts?: RemoteStartOptions): Promise<void>;
  /** Records desired=stopped with the next generation and sends it; with waitMs, until the agent reports it stopped. */
  stop(rec: VmRecord & { host: string }, opts: { force?: boolean; waitMs?: number }): Promise<{ stopped: boolean; reason?: string }>;
  /** vm wait: until its agent reports it stopped; why it stopped (VM_WAIT_TIMEOUT after timeoutMs). */
  waitStopped(rec: VmRecord & { host: string }, timeoutMs: number): Promise<string>;
  /** vm pause | unpause | reset, done by its agent; resolves once its report shows the state (or soon after). */
  operate(rec: VmRecord & { host: string }, op: 'pause' | 'unpause' | 'reset'): Promise<void>;
  /** The tail of its console or QEMU log on its host, or a PNG of its screen, through its agent. */
  read(rec: VmRecord & { host: string }, op: 'console-log' | 'qemu-log' | 'screendump', maxBytes: number): Promise<Buffer>;
  /** vm stop --to-disk, done by its agent: its state saved in that host's data folder, then its QEMU quits; resolves once
   *  its agent reports it stopped with the state kept there. */
  saveState(rec: VmRecord & { host: string }): Promise<void>;
  /** Saved states streamed to and from agents' hosts. */
  readonly states: RemoteStateDriver;
  /** vm start --discard-state: its agent deletes the state saved on its host. */
  discardState(rec: VmRecord & { host: string }): Promise<void>;
  /** The VM is no longer wanted on that host (removed, or placed elsewhere): its agent forgets it (now, or at its next link). */
  forget(rec: VmRecord & { host: string }): void;
}

/** A remote VM's state as its agent last reported it: stopped when it reported nothing. */
export function remoteRuntimeView(rec: Pick<VmRecord, 'observed'>): Pick<VmStatus, 'state' | 'pid' | 'accel' | 'startedAt'> & { running: boolean } {
  const o = rec.observed;
  if (!o || o.state === 'stopped') return { running: false, state: 'stopped', pid: null, accel: null, startedAt: null };
  return { running: true, state: o.state, pid: o.pid, accel: o.accel, startedAt: o.startedAt };
}
