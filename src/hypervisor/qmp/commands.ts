// One typed method per QMP command Ardesia uses; replies are checked once here, at the boundary.
import { EventEmitter } from 'node:events';
import { z } from 'zod';
import { QmpDisconnectedError, QmpProtocolError } from './errors.js';
import type { QmpClientEvents } from './events.js';
import type { QmpVersionInfo } from './protocol.js';

export interface QmpExecuteOptions {
  /** Reject with QmpTimeoutError after this long; Infinity waits forever. Default: the client's. */
  timeoutMs?: number;
}

/** QEMU's RunState values (qapi/run-state.json); a newer QEMU may add more. */
export type QmpRunState =
  | 'debug' | 'inmigrate' | 'internal-error' | 'io-error' | 'paused' | 'postmigrate' | 'prelaunch'
  | 'finish-migrate' | 'restore-vm' | 'running' | 'save-vm' | 'shutdown' | 'suspended' | 'watchdog'
  | 'guest-panicked' | 'colo'
  | (string & {});

export interface QmpStatusInfo {
  status: QmpRunState;
  running: boolean;
}

export interface QmpKvmInfo {
  enabled: boolean;
  present: boolean;
}

export interface QmpNameInfo {
  name?: string;
}

/** One block backend from query-block; the rest of QEMU's fields are kept as they came. */
export interface QmpBlockInfo {
  device: string;
  qdev?: string;
  removable: boolean;
  locked: boolean;
  inserted?: Record<string, unknown> & { file?: string; 'node-name'?: string; ro?: boolean; drv?: string };
  [field: string]: unknown;
}

/** blockdev-add arguments in QEMU's own spelling (BlockdevOptions), e.g. { driver: 'qcow2', 'node-name': 'disk0', file: {...} }. */
export type QmpBlockdevOptions = { driver: string; 'node-name'?: string } & Record<string, unknown>;

/** device_add arguments in QEMU's own spelling, e.g. { driver: 'virtio-blk-pci', id: 'home0', drive: 'home0' }. */
export type QmpDeviceOptions = { driver: string; id?: string } & Record<string, unknown>;

/** query-migrate's answer: no status before the first migration; 'completed' or 'failed' (with error-desc) at the end. */
export interface QmpMigrateInfo {
  status?: 'none' | 'setup' | 'active' | 'device' | 'completed' | 'failed' | 'cancelled' | (string & {});
  'error-desc'?: string;
  /** Once completed: how long the vCPUs were stopped for the last pass (ms). */
  downtime?: number;
}

export type QmpDisplayProtocol = 'vnc' | 'spice';

export interface QmpSetPasswordOptions {
  /** What happens to clients already connected: keep them (default), fail, or disconnect them. */
  connected?: 'keep' | 'fail' | 'disconnect';
  /** VNC only: the display id when there are several. */
  display?: string;
}

const StatusReply = z.object({ status: z.string(), running: z.boolean() });
const KvmReply = z.object({ enabled: z.boolean(), present: z.boolean() });
const VmGenerationIdReply = z.object({ guid: z.string() });
const NameReply = z.object({ name: z.string().optional() });
const VersionReply = z.object({
  qemu: z.object({ major: z.number(), minor: z.number(), micro: z.number() }),
  package: z.string(),
});
const MigrateReply = z.object({
  status: z.string().optional(),
  'error-desc': z.string().optional(),
  ram: z.object({ transferred: z.number() }).passthrough().optional(),
}).passthrough();
const BlockReply = z.array(
  z.object({ device: z.string(), removable: z.boolean(), locked: z.boolean() }).passthrough(),
);

function checkReply<T>(command: string, schema: z.ZodType<T, z.ZodTypeDef, unknown>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new QmpProtocolError(`reply to ${command} has an unexpected shape`, JSON.stringify(value) ?? String(value));
  }
  return result.data;
}

/** The typed command surface; QmpClient supplies execute(). */
export abstract class QmpCommands extends EventEmitter<QmpClientEvents> {
  abstract execute<T = unknown>(command: string, args?: Record<string, unknown>, options?: QmpExecuteOptions): Promise<T>;

  async queryStatus(): Promise<QmpStatusInfo> {
    const { status, running } = checkReply('query-status', StatusReply, await this.execute('query-status'));
    return { status, running };
  }

  async cont(): Promise<void> {
    await this.execute('cont');
  }

  async stop(): Promise<void> {
    await this.execute('stop');
  }

  async systemReset(): Promise<void> {
    await this.execute('system_reset');
  }

  /** Presses the ACPI power button; the guest decides whether to shut down (watch for SHUTDOWN). */
  async systemPowerdown(): Promise<void> {
    await this.execute('system_powerdown');
  }

  /** Ends QEMU at once. QEMU may close the socket before its reply arrives: that counts as done. */
  async quit(): Promise<void> {
    try {
      await this.execute('quit');
    } catch (error) {
      if (!(error instanceof QmpDisconnectedError) || error.reason.kind === 'closed-by-client') throw error;
    }
  }

  async queryVersion(): Promise<QmpVersionInfo> {
    return checkReply('query-version', VersionReply, await this.execute('query-version'));
  }

  /** The VM generation ID the guest sees (a vmgenid device is required). */
  async queryVmGenerationId(): Promise<string> {
    return checkReply('query-vm-generation-id', VmGenerationIdReply, await this.execute('query-vm-generation-id')).guid;
  }

  async queryKvm(): Promise<QmpKvmInfo> {
    return checkReply('query-kvm', KvmReply, await this.execute('query-kvm'));
  }

  async queryName(): Promise<QmpNameInfo> {
    return checkReply('query-name', NameReply, await this.execute('query-name'));
  }

  /** Writes the current display to a file on the QEMU host (needs a display device, e.g. -device VGA). */
  async screendump(filename: string, format: 'png' | 'ppm' = 'png', options: { device?: string; head?: number } = {}): Promise<void> {
    await this.execute('screendump', { filename, format, ...options });
  }

  /** Runs a human monitor (HMP) command and returns its text output; for diagnostics, not for parsing. */
  async humanMonitorCommand(commandLine: string, options: { cpuIndex?: number } = {}): Promise<string> {
    const args: Record<string, unknown> = { 'command-line': commandLine };
    if (options.cpuIndex !== undefined) args['cpu-index'] = options.cpuIndex;
    return checkReply('human-monitor-command', z.string(), await this.execute('human-monitor-command', args));
  }

  async blockdevAdd(options: QmpBlockdevOptions): Promise<void> {
    await this.execute('blockdev-add', options);
  }

  async blockdevDel(nodeName: string): Promise<void> {
    await this.execute('blockdev-del', { 'node-name': nodeName });
  }

  /** Closes the descriptors of an fdset handed over earlier (add-fd); QEMU frees it once no node uses them. */
  async removeFd(fdsetId: number): Promise<void> {
    await this.execute('remove-fd', { 'fdset-id': fdsetId });
  }

  async deviceAdd(options: QmpDeviceOptions): Promise<void> {
    await this.execute('device_add', options);
  }

  /** Requests removal; for PCI the guest must agree, so wait for DEVICE_DELETED before reusing the id. */
  async deviceDel(id: string): Promise<void> {
    await this.execute('device_del', { id });
  }

  async queryBlock(): Promise<QmpBlockInfo[]> {
    return checkReply('query-block', BlockReply, await this.execute('query-block')) as QmpBlockInfo[];
  }

  async setPassword(protocol: QmpDisplayProtocol, password: string, options: QmpSetPasswordOptions = {}): Promise<void> {
    const args: Record<string, unknown> = { protocol, password };
    if (options.connected !== undefined) args.connected = options.connected;
    if (options.display !== undefined) args.display = options.display;
    await this.execute('set_password', args);
  }

  /** time: 'now', 'never', '+SECONDS' from now, or 'SECONDS' since the epoch (QEMU's own syntax). */
  async expirePassword(protocol: QmpDisplayProtocol, time: string): Promise<void> {
    await this.execute('expire_password', { protocol, time });
  }

  /** Starts an outgoing migration (the state to `uri`: unix:PATH, fd:NAME); poll queryMigrate for its end. */
  async migrate(uri: string): Promise<void> {
    await this.execute('migrate', { uri });
  }

  /** Turns migration capabilities on or off (both sides of a migration must agree, e.g. x-ignore-shared). */
  async migrateSetCapabilities(capabilities: Record<string, boolean>): Promise<void> {
    await this.execute('migrate-set-capabilities', { capabilities: Object.entries(capabilities).map(([capability, state]) => ({ capability, state })) });
  }

  /** Loads an incoming migration into a QEMU started with `-incoming defer` (fd:N reads an inherited descriptor). */
  async migrateIncoming(uri: string): Promise<void> {
    await this.execute('migrate-incoming', { uri });
  }

  /** Ends an outgoing migration under way: the source runs on (query-migrate then says cancelled). */
  async migrateCancel(): Promise<void> {
    await this.execute('migrate_cancel');
  }

  async queryMigrate(): Promise<QmpMigrateInfo> {
    return checkReply('query-migrate', MigrateReply, await this.execute('query-migrate')) as QmpMigrateInfo;
  }

  /** Adds a chardev (ChardevBackend in QEMU's spelling, e.g. { type: 'qemu-vdagent', data: { clipboard: true } }). */
  async chardevAdd(id: string, backend: { type: string; data: Record<string, unknown> }): Promise<void> {
    await this.execute('chardev-add', { id, backend });
  }

  async chardevRemove(id: string): Promise<void> {
    await this.execute('chardev-remove', { id });
  }
}
