// Power fencing (serve --fence-config): a silent host powered off through its fence device (a fence agent such as
// fence_ipmilan, run by the leading controller), then judged down once the device confirms it off, without waiting for its
// storage lease to expire. The configuration is a root-owned file, never the API: a fence command runs as root.
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute } from 'node:path';
import { ArdesiaError } from '../contract/errors.js';
import { HostName } from '../contract/hosts.js';
import { HOST_SILENT_AFTER_MS, type StorageLiveness } from './host-liveness.js';

/** A fence attempt that did not confirm the host off is tried again after this. */
export const FENCE_RETRY_MS = 60_000;
/** One fence agent action (off, status) may take this long (IPMI over a slow BMC takes tens of seconds). */
export const FENCE_ACTION_TIMEOUT_MS = 60_000;

/** Each host's fence command: the agent's absolute path and its options, without the action. */
export type FenceConfig = ReadonlyMap<string, readonly string[]>;

/** Pure: the file's text as a fence configuration (`{"HOST": ["/usr/sbin/fence_ipmilan", "--ip=…", …]}`), or why not. */
export function fenceConfigParse(text: string): FenceConfig | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return `it is not JSON (${(err as Error).message})`;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'it must be an object: {"HOST": ["/usr/sbin/fence_AGENT", "--option=value", …]}';
  const config = new Map<string, string[]>();
  for (const [host, argv] of Object.entries(raw)) {
    if (!HostName.safeParse(host).success) return `${JSON.stringify(host)} is not a host name`;
    if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string' && a.length > 0 && !a.includes('\0'))) return `host ${host}: the command must be a non-empty array of strings`;
    if (!isAbsolute(argv[0]!)) return `host ${host}: the fence agent must be an absolute path (like /usr/sbin/fence_ipmilan), not ${argv[0]}`;
    if (argv.some((a: string) => /^(-o|--action)(=|$)/.test(a))) return `host ${host}: leave out the action (-o/--action): Ardesia adds off, then status`;
    config.set(host, argv as string[]);
  }
  return config;
}

/** Reads and checks the file: root's own and writable by root only, since each command in it runs as root. */
export function fenceConfigLoad(path: string): FenceConfig {
  let st;
  let text;
  try {
    st = statSync(path);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ArdesiaError('FENCE_CONFIG_INVALID', `--fence-config ${path}: ${(err as Error).message}`);
  }
  if (st.uid !== 0 || (st.mode & 0o022) !== 0) {
    throw new ArdesiaError('FENCE_CONFIG_INVALID', `--fence-config ${path} must belong to root and be writable by root only (it is uid ${st.uid}, mode ${(st.mode & 0o777).toString(8)}): its commands run as root`);
  }
  const parsed = fenceConfigParse(text);
  if (typeof parsed === 'string') throw new ArdesiaError('FENCE_CONFIG_INVALID', `--fence-config ${path}: ${parsed}`);
  return parsed;
}

export interface FenceCandidate {
  name: string;
  /** The controller's own host, a host in maintenance (nothing runs there) or recorded down (not back since). */
  exempt: boolean;
  heartbeatAgeMs: number;
  storage: StorageLiveness | undefined;
  configured: boolean;
  /** The device already confirmed it off since its last heartbeat. */
  confirmedOff: boolean;
  /** Since this controller last tried to fence it without a confirmation (undefined: never). */
  lastTryAgeMs: number | undefined;
  /** Its agent's link lives: it talks to the controller (joined or back, its first heartbeat still to come). */
  linked: boolean;
}

/**
 * Pure: whether to power the host off now. Only a silent host, and never one that still renews its storage lease: that
 * host is alive and only cut off from the management network (its users' sessions are safe; evicting it is the
 * administrator's call). A host whose lease has expired is down already.
 */
export function fenceWanted(h: FenceCandidate): boolean {
  if (h.exempt || !h.configured || h.confirmedOff || h.linked) return false;
  if (h.heartbeatAgeMs <= HOST_SILENT_AFTER_MS) return false;
  if (h.storage === 'renewing' || h.storage === 'expired') return false;
  return h.lastTryAgeMs === undefined || h.lastTryAgeMs >= FENCE_RETRY_MS;
}

/** Pure: a fence agent's `status` exit code (fence-agents' API: 0 on, 2 off, anything else a failure). */
export function fenceStatusOf(exitCode: number | null): 'on' | 'off' | 'unknown' {
  return exitCode === 0 ? 'on' : exitCode === 2 ? 'off' : 'unknown';
}

/** Runs one action of the host's fence agent; its exit code and the end of what it printed. */
export function fenceAction(argv: readonly string[], action: 'off' | 'status', timeoutMs = FENCE_ACTION_TIMEOUT_MS): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, [...argv.slice(1), `--action=${action}`], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    let output = '';
    const keep = (d: Buffer) => (output = (output + d.toString()).slice(-2000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (err) => resolve({ code: null, output: `${basename(argv[0]!)} could not run: ${err.message}` }));
    child.on('close', (code, signal) => resolve({ code, output: signal ? `${output}\n(killed after ${Math.round(timeoutMs / 1000)} s)`.trim() : output.trim() }));
  });
}

/** A host as the fencer needs it: its stored state and last heartbeat, judged by the database's clock. */
export interface FenceRow {
  name: string;
  state: string;
  heartbeat_at: string;
  agent_linked_at: string | null;
}

/**
 * The leading controller's fencer: after each heartbeat, each silent host that wants it (fenceWanted) is powered off
 * through its agent, then asked its status; `off` confirmed makes it down until it heartbeats again. One action at a
 * time per host, in the background (a BMC may take a minute); each outcome audited as host.fence.
 */
export class HostFencer {
  private readonly tries = new Map<string, number>();
  /** Host → the heartbeat it had when its device confirmed it off (valid until a newer one). */
  private readonly confirmed = new Map<string, string>();
  private readonly running = new Map<string, Promise<void>>();

  constructor(
    private readonly config: FenceConfig,
    private readonly record: (host: string, detail: { agent: string; outcome: 'off' | 'failed'; output: string }) => Promise<void>,
    private readonly log: { info(o: object, m: string): void; warn(o: object, m: string): void; error(o: object, m: string): void },
    private readonly act: typeof fenceAction = fenceAction,
  ) {}

  /** The hosts its device confirmed off since their last heartbeat. */
  confirmedOff(rows: readonly FenceRow[]): Set<string> {
    return new Set(rows.filter((r) => this.confirmed.get(r.name) === r.heartbeat_at).map((r) => r.name));
  }

  /** Starts the fences this heartbeat wants (not awaited: the next heartbeats see their outcome). */
  pass(rows: readonly FenceRow[], nowMs: number, controller: string, storage: ReadonlyMap<string, StorageLiveness>): void {
    const off = this.confirmedOff(rows);
    for (const r of rows) {
      const tried = this.tries.get(r.name);
      const wanted = fenceWanted({
        name: r.name,
        exempt: r.name === controller || r.state === 'maintenance' || r.state === 'down',
        heartbeatAgeMs: nowMs - Date.parse(r.heartbeat_at),
        storage: storage.get(r.name),
        configured: this.config.has(r.name),
        confirmedOff: off.has(r.name),
        lastTryAgeMs: tried === undefined ? undefined : Date.now() - tried,
        linked: r.agent_linked_at !== null,
      });
      if (wanted && !this.running.has(r.name)) this.running.set(r.name, this.fence(r).finally(() => this.running.delete(r.name)));
    }
  }

  /** Waits for the fences running now. */
  async settled(): Promise<void> {
    await Promise.all(this.running.values());
  }

  private async fence(r: FenceRow): Promise<void> {
    const argv = this.config.get(r.name)!;
    const agent = basename(argv[0]!);
    this.tries.set(r.name, Date.now());
    try {
      this.log.warn({ host: r.name, agent }, `host ${r.name} is silent and not renewing a storage lease: powering it off through its fence device (${agent})`);
      const off = await this.act(argv, 'off');
      const status = await this.act(argv, 'status');
      const confirmed = fenceStatusOf(status.code) === 'off';
      const output = [off.output, status.output].filter(Boolean).join('\n').slice(-1000);
      if (confirmed) {
        this.confirmed.set(r.name, r.heartbeat_at);
        this.tries.delete(r.name);
        this.log.warn({ host: r.name, agent }, `host ${r.name}: its fence device confirms it powered off; it is down`);
      } else {
        this.log.error({ host: r.name, agent, offExit: off.code, statusExit: status.code, output }, `host ${r.name}: the fence did not confirm it off (off exited ${off.code}, status ${status.code}); it stays suspect, tried again in ${FENCE_RETRY_MS / 1000} s`);
      }
      await this.record(r.name, { agent, outcome: confirmed ? 'off' : 'failed', output });
    } catch (err) {
      this.log.error({ host: r.name, err: (err as Error).message }, `host ${r.name}: fencing failed: ${(err as Error).message}`);
    }
  }
}
