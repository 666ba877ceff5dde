// The agent ↔ controller wire contract: join tokens, the join exchange, and the messages of the agent's link
// (JSON text frames over WSS). Versioned and zod-typed; the embedded agent of a one-host install speaks the same types.
import { z } from 'zod';
import { ArdesiaError, type ErrorCode, isErrorCode } from './errors.js';
import { HostName, HostStorage } from './hosts.js';
import { VmSpec } from './vm.js';

/** Bumped when a message changes incompatibly; a controller refuses an agent speaking another version (2: VMs' desired and
 * observed states; 3: streams to a VM's console and display, dialled out by the agent; 4: pool desktops: the guest
 * channel's stream, the guest's events, disk hot-plug commands; 5: live migration, VM operations and reads, the image
 * files a start rests on with their checksums, SPICE through the controller; 6: persistent desktops' homes and leases in
 * migrations; 7: hosts without shared storage: the host's storage in its capacity, a VM's throwaway clone made on the
 * host, image versions copied over the link; 8: the display's native hop: whether the agent has it, and the port of the
 * controller's end to dial instead of a WebSocket; 9: migrate-resume `ifStayed`, answered whether the VM runs there;
 * 10: `joining` while the host waits for the lockspace; 11: a restore clone's template in vm-desired, a failed start's
 * code in vm-observed; 12: saves to disk on the VM's host; 13: saved states streamed both ways, vm send and a state
 * saved on another host resumed here; a VM owner's start, its files checked on the host by their rules). */
export const AGENT_PROTOCOL_VERSION = 13;
/** The most of a log or a screendump one answer carries (base64 in a JSON frame under AGENT_FRAME_MAX_BYTES). */
export const VM_COMMAND_DATA_MAX_BYTES = 2 * 1024 * 1024;
/** A frame larger than this is not a message of this protocol (a host's full desired set is the largest: a few KiB per VM). */
export const AGENT_FRAME_MAX_BYTES = 4 * 1024 * 1024;
/** The link's URL path on the controller, and the join exchange's. */
export const AGENT_LINK_PATH = '/v1/agent/link';
export const AGENT_JOIN_PATH = '/v1/agent/join';
/** Where the agent dials one stream (a WebSocket of raw bytes), with its credential and the stream's header. */
export const AGENT_STREAM_PATH = '/v1/agent/stream';
/** The stream's id and one-time secret, as `ID.SECRET`. */
export const AGENT_STREAM_HEADER = 'x-ardesia-stream';

const Sha256Fingerprint = z.string().regex(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/, 'a SHA-256 fingerprint (AB:CD:…)');
const Secret = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a 256-bit secret (base64url)');
const TokenId = z.string().regex(/^[A-Za-z0-9_-]{16}$/, 'a token id');

/** What a join token carries: where the controller is, the certificate to pin, the host it admits, and the secret. */
export const JoinTokenContent = z
  .object({ v: z.literal(1), url: z.string().url().startsWith('https://'), fp: Sha256Fingerprint, host: HostName, id: TokenId, secret: Secret })
  .strict();
export type JoinTokenContent = z.infer<typeof JoinTokenContent>;
const JOIN_TOKEN_PREFIX = 'ardesia-join.';

export function joinTokenEncode(content: JoinTokenContent): string {
  return JOIN_TOKEN_PREFIX + Buffer.from(JSON.stringify(JoinTokenContent.parse(content))).toString('base64url');
}

/** Throws AGENT_JOIN_TOKEN_INVALID for anything `ardesia host add` did not print. */
export function joinTokenParse(token: string): JoinTokenContent {
  const text = token.trim();
  const bad = (why: string) => new ArdesiaError('AGENT_JOIN_TOKEN_INVALID', `the join token is not one \`ardesia host add\` printed: ${why}`);
  if (!text.startsWith(JOIN_TOKEN_PREFIX)) throw bad(`it does not start with ${JOIN_TOKEN_PREFIX}`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(text.slice(JOIN_TOKEN_PREFIX.length), 'base64url').toString('utf8'));
  } catch {
    throw bad('its body is not readable (cut short or mistyped?)');
  }
  const r = JoinTokenContent.safeParse(json);
  if (!r.success) throw bad(r.error.issues.map((i) => `${i.path.join('.') || 'token'}: ${i.message}`).join('; '));
  return r.data;
}

/** POST /v1/agent/join: the token's id and secret traded for the agent's own credential. */
export const AgentJoinRequest = z.object({ protocol: z.number().int(), host: HostName, id: TokenId, secret: Secret }).strict();
export type AgentJoinRequest = z.infer<typeof AgentJoinRequest>;
/** The agent's credential: `ardesia-agent.` + a 256-bit secret; the controller keeps only its SHA-256. */
export const AgentCredential = z.string().regex(/^ardesia-agent\.[A-Za-z0-9_-]{43}$/, 'an agent credential');
export const AgentJoinReply = z.object({ host: HostName, credential: AgentCredential }).strict();
export type AgentJoinReply = z.infer<typeof AgentJoinReply>;

/** What the agent measured on its host at start: placement's figures and why it runs VMs under KVM or TCG. */
export const AgentCapacity = z
  .object({
    memoryMiB: z.number().int().min(1),
    vcpus: z.number().int().min(1),
    qemuVersion: z.string().max(200).nullable(),
    accel: z.enum(['kvm', 'tcg']),
    kvmProbe: z.object({ ok: z.boolean(), detail: z.string().max(500) }).strict(),
    /** `shared`: the host mounts the shared data folder; `local` (agent --storage local): it sees none of it, image
     *  versions are copied to it over the link and a desktop's system disk is made there (HostStorage). */
    storage: HostStorage,
    /** The agent has the display's native hop (native/display-hop.c): a display stream may come as `hop` below. */
    displayHop: z.boolean(),
  })
  .strict();
export type AgentCapacity = z.infer<typeof AgentCapacity>;

/** What the agent observes on each heartbeat. */
export const AgentLoad = z.object({ loadAverage1m: z.number().min(0), memoryFreeMiB: z.number().int().min(0) }).strict();
export type AgentLoad = z.infer<typeof AgentLoad>;

export const AgentHello = z.object({ type: z.literal('hello'), protocol: z.number().int(), host: HostName, agentVersion: z.string().min(1).max(64), capacity: AgentCapacity }).strict();
export const AgentHeartbeat = z.object({ type: z.literal('heartbeat'), seq: z.number().int().min(0), load: AgentLoad }).strict();

/** Each change of a VM's desired state takes the next generation: an agent applies a generation once, so a VM that
 * stopped by itself is not started again until the controller asks anew. */
export const VmGeneration = z.number().int().min(0);
/** An image version a VM's disks rest on, with the sha256 recorded when it was published: the agent checks the file
 *  against it before its first use on that host (a host whose view of the shared storage differs refuses the start). */
export const ImageFileCheck = z.object({ path: z.string().min(1).max(4096), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict();
export type ImageFileCheck = z.infer<typeof ImageFileCheck>;
const AbsolutePath = z.string().startsWith('/').max(4096);
/** A disk made afresh on a host without shared storage at each start of its VM: a throwaway linked clone of `base` (an
 *  image version, one of the start's `images`: a non-persistent desktop's system disk) or a blank disk of `blankBytes`
 *  (its scratch home) — both are wiped at every reset anyway. */
export const LocalDisk = z.union([
  z.object({ disk: z.number().int().min(0).max(15), base: AbsolutePath }).strict(),
  z.object({ disk: z.number().int().min(0).max(15), blankBytes: z.number().int().min(512) }).strict(),
]);
export type LocalDisk = z.infer<typeof LocalDisk>;
/** A VM on a host without shared storage: its disks made there, and the image files (the `images` versions, and `boot`:
 *  an image's kernel and initrd) copied there over the link first. */
export const LocalFiles = z.object({ disks: z.array(LocalDisk).max(16), boot: z.array(AbsolutePath).max(2) }).strict();
export type LocalFiles = z.infer<typeof LocalFiles>;
/** The most image files one VM rests on (its disks' backing chains). */
export const IMAGE_FILE_CHECKS_MAX = 64;
/** One VM the controller wants on the agent's host: absent from a full set (or `absent`) means not there at all. */
/** A pool's restore template on the shared data folder a VM starts as a clone of: its device state, its RAM (ram.bin,
 *  loaded into a sealed memfd once per host) and its manifest (saved-state/template.ts, checked by the agent). */
export const VmRestoreFrom = z
  .object({ stream: AbsolutePath, ramFile: AbsolutePath, manifest: z.record(z.string(), z.unknown()) })
  .strict();
export type VmRestoreFrom = z.infer<typeof VmRestoreFrom>;
/** A VM owner's start (not an administrator's): the host checks every file the VM names by that owner's folders before
 *  QEMU may open it, and each again as it is opened (vms/owner-files.ts), as the controller's host does; `dataDir` is the
 *  shared data folder, refused but for the owner's own folder in it (the host's own data folder is refused too). */
export const VmConfined = z
  .object({
    principal: z.string().min(1).max(64),
    dataDir: AbsolutePath,
    roots: z.array(z.object({ path: AbsolutePath, readOnly: z.boolean() }).strict()).max(256),
    denied: z.array(AbsolutePath).max(64),
  })
  .strict();
export type VmConfined = z.infer<typeof VmConfined>;
export const VmDesired = z
  .object({
    name: z.string().min(1).max(64),
    spec: VmSpec,
    desired: z.enum(['running', 'stopped', 'absent']),
    generation: VmGeneration,
    force: z.boolean().optional(),
    /** With `running`: the image files to check before the start (on a host without shared storage: to copy there). */
    images: z.array(ImageFileCheck).max(IMAGE_FILE_CHECKS_MAX).optional(),
    /** Sent to a host without shared storage only: how the VM's files are had there (LocalFiles). */
    local: LocalFiles.optional(),
    /** With `running`: start as a clone of this restore template (its files are also in `images`, checked first). */
    restoreFrom: VmRestoreFrom.optional(),
    /** With `running`: a VM owner's start, its files checked by their rules on the host. */
    confined: VmConfined.optional(),
  })
  .strict();
export type VmDesired = z.infer<typeof VmDesired>;
/** What the agent sees of one VM on its host. */
export const VmObserved = z
  .object({
    name: z.string().min(1).max(64),
    state: z.enum(['stopped', 'starting', 'running', 'paused', 'stopping']),
    pid: z.number().int().positive().nullable(),
    accel: z.enum(['kvm', 'tcg']).nullable(),
    startedAt: z.string().max(64).nullable(),
    /** The last desired generation the agent carried out (0: none yet). */
    generation: VmGeneration,
    /** Why it last stopped, or why its start failed. */
    exitReason: z.string().max(2000).nullable(),
    /** A failed start's registry code (a clone whose template would not load is told from a failed boot). */
    startFailedCode: z.custom<ErrorCode>(isErrorCode, 'a registry code').optional(),
    /** A restore template's clone that runs: how long its QEMU took to load the template's state, ms. */
    restoreMs: z.number().int().min(0).optional(),
    /** A stopped VM whose state is saved on this host (vm stop --to-disk): its next start here resumes it. */
    savedState: z.literal(true).optional(),
  })
  .strict();
export type VmObserved = z.infer<typeof VmObserved>;
/** Agent → controller: every VM on the host when `full`, else those that changed. */
export const AgentVmObserved = z.object({ type: z.literal('vm-observed'), full: z.boolean(), vms: z.array(VmObserved).max(10_000) }).strict();
/** A stream's id: 96 random bits, base64url. */
export const StreamId = z.string().regex(/^[A-Za-z0-9_-]{16}$/, 'a stream id');
/** Agent → controller: a stream the agent could not open (the VM does not run on its host), with a registry code. */
export const AgentStreamFailed = z
  .object({ type: z.literal('stream-failed'), id: StreamId, code: z.custom<ErrorCode>(isErrorCode, 'a registry code'), message: z.string().max(1000) })
  .strict();
/** Agent → controller: the guest of a VM on its host rebooted or powered off (QMP RESET / SHUTDOWN caused by the guest). */
export const AgentVmEvent = z.object({ type: z.literal('vm-event'), vm: z.string().min(1).max(64), event: z.enum(['guest-reset', 'guest-shutdown']) }).strict();
/** A command's id: 96 random bits, base64url. */
export const CommandId = z.string().regex(/^[A-Za-z0-9_-]{16}$/, 'a command id');
/** Agent → controller: how a vm-command ended: its `value` (the unplug was done in time, the device is plugged in), or
 * the `error` with a registry code. */
export const AgentVmCommandResult = z
  .object({
    type: z.literal('vm-command-result'),
    id: CommandId,
    value: z.boolean().optional(),
    /** A read's bytes, base64 (VmRead). */
    data: z.string().max(Math.ceil(VM_COMMAND_DATA_MAX_BYTES / 3) * 4).optional(),
    error: z.object({ code: z.custom<ErrorCode>(isErrorCode, 'a registry code'), message: z.string().max(1000) }).strict().optional(),
  })
  .strict();
/** Agent → controller (a host without shared storage): send this image file (a published version, or an image's kernel
 *  or initrd) from byte `offset` on (what a cut copy already holds); answered by image-stream with the same id. */
export const AgentImageFetch = z.object({ type: z.literal('image-fetch'), id: CommandId, path: z.string().startsWith('/').max(4096), offset: z.number().int().min(0) }).strict();
/** Agent → controller, every heartbeat interval while its host joins the lockspace (it may not heartbeat before it
 *  joined, and sanlock holds a host id an uncleanly stopped holder had for host_dead_seconds): the link is alive. */
export const AgentJoining = z.object({ type: z.literal('joining'), hostId: z.number().int().min(1).max(2000), waitedMs: z.number().int().min(0) }).strict();
/** Agent → controller. */
export const AgentMessage = z.discriminatedUnion('type', [AgentHello, AgentHeartbeat, AgentJoining, AgentVmObserved, AgentStreamFailed, AgentVmEvent, AgentVmCommandResult, AgentImageFetch]);
export type AgentMessage = z.infer<typeof AgentMessage>;

/** Controller → agent: the hello accepted (with the host's id, its name in the store), refused with a registry code, a heartbeat seen. */
/** With home leases on (serve --home-leases sanlock): the agent's host joins the site's lockspace in this folder (on the
 * shared storage) with this sanlock host id before it carries out anything, and registers every QEMU it starts. */
export const AgentHomeLeases = z.object({ leaseDir: z.string().startsWith('/').max(4096), hostId: z.number().int().min(1).max(2000), ioTimeoutS: z.number().int().min(1).max(60) }).strict();
export type AgentHomeLeases = z.infer<typeof AgentHomeLeases>;
export const ControllerAccepted = z
  .object({ type: z.literal('accepted'), protocol: z.number().int(), hostId: HostName, heartbeatEveryMs: z.number().int().min(100), homeLeases: AgentHomeLeases.optional() })
  .strict();
export const ControllerRefused = z.object({ type: z.literal('refused'), code: z.custom<ErrorCode>(isErrorCode, 'a registry code'), message: z.string().max(1000), hint: z.string().max(1000) }).strict();
export const ControllerAck = z.object({ type: z.literal('ack'), seq: z.number().int().min(0) }).strict();
/** Controller → agent: the host's whole desired set after each accepted hello (`full`), then single changes. */
export const ControllerVmDesired = z.object({ type: z.literal('vm-desired'), full: z.boolean(), vms: z.array(VmDesired).max(10_000) }).strict();
/** Controller → agent: dial AGENT_STREAM_PATH with this id and secret and pipe it to the VM's serial console (after
 * `replay` bytes of its recent output), its VNC socket, its guest channel, or one connection to its SPICE server (on the
 * host's loopback: a native client's channel, relayed by the controller). A display with `hop`: the agent's native hop
 * dials the controller's at that port (the address it reaches the controller at) and sends the secret inside TLS. */
export const ControllerStreamOpen = z
  .object({
    type: z.literal('stream-open'),
    id: StreamId,
    secret: Secret,
    vm: z.string().min(1).max(64),
    kind: z.enum(['console', 'display', 'guest', 'spice']),
    replay: z.number().int().min(0).max(65536),
    hop: z.object({ port: z.number().int().min(1).max(65535) }).strict().optional(),
  })
  .strict();
export type ControllerStreamOpen = z.infer<typeof ControllerStreamOpen>;
const QmpId = z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'a QMP node or device id');
/** A disk hot-plugged into a running VM (its file on the shared data folder). */
export const VmDiskPlug = z.object({ op: z.literal('disk-plug'), path: z.string().startsWith('/').max(4096), node: QmpId, device: QmpId, serial: z.string().regex(/^[A-Za-z0-9_-]{1,20}$/) }).strict();
export const VmDiskUnplug = z.object({ op: z.literal('disk-unplug'), node: QmpId, device: QmpId, timeoutMs: z.number().int().min(1).max(300_000) }).strict();
export const VmDiskQuery = z.object({ op: z.literal('disk-plugged'), device: QmpId }).strict();
/** A crash-consistent copy of a plugged disk (a home, for `backup --with-homes`) into a new qcow2 at `target`, a path on
 *  the shared data folder: QEMU's blockdev-backup on the VM's host, answered yes once the job concluded. */
export const VmDiskCopy = z.object({ op: z.literal('disk-copy'), node: QmpId, target: z.string().startsWith('/').max(4096), sizeBytes: z.number().int().min(512) }).strict();
/** A home's sanlock resource, as the lease layout names it (cluster/home-leases/layout.ts). */
export const LeaseResourceWire = z
  .object({ lockspace: z.string().regex(/^[A-Za-z0-9_-]{1,48}$/), name: z.string().regex(/^[A-Za-z0-9_.@-]{1,48}$/), path: z.string().startsWith('/').max(4096), offset: z.number().int().min(0) })
  .strict();
/** The home's lease acquired for the VM's QEMU (before the disk is plugged in), or released (after it is unplugged). */
const LeaseUser = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/);
export const VmLeaseAcquire = z.object({ op: z.literal('lease-acquire'), user: LeaseUser, resource: LeaseResourceWire }).strict();
export const VmLeaseRelease = z.object({ op: z.literal('lease-release'), user: LeaseUser, resource: LeaseResourceWire }).strict();
/** A migration's stream: the agent dials it back like a display's (AGENT_STREAM_PATH, this id and one-time secret). */
export const MigrationStream = z.object({ id: StreamId, secret: Secret }).strict();
const MIGRATING_MAX = 4;
/** A hot-plugged disk a migrating VM carries (VmDiskPlug's fields). */
export const MigratingDisk = VmDiskPlug.omit({ op: true });
export type MigratingDisk = z.infer<typeof MigratingDisk>;
/** A home lease a migrating VM holds: given back by the source once its state left, taken by the destination. */
export const MigratingLease = z.object({ user: LeaseUser, resource: LeaseResourceWire }).strict();
export type MigratingLease = z.infer<typeof MigratingLease>;
/** A live migration as the controller records it before it starts: where to, the generation it gives the VM there, and
 *  the home leases the VM carries (the source takes them back if the move fails). */
export const VmMoveIntent = z.object({ to: z.string().min(1).max(64), generation: VmGeneration, leases: z.array(MigratingLease).max(16) }).strict();
export type VmMoveIntent = z.infer<typeof VmMoveIntent>;
/** Live migration, destination: start the VM with `-incoming defer`, feed it what arrives on the stream; answered once
 *  the state is in and the VM runs here, with `generation` as the one applied (the controller moves the VM to it). */
export const VmMigrateIn = z
  .object({
    op: z.literal('migrate-in'),
    spec: VmSpec,
    generation: VmGeneration,
    stream: MigrationStream,
    images: z.array(ImageFileCheck).max(IMAGE_FILE_CHECKS_MAX).optional(),
    /** Disks hot-plugged into the running VM (a desktop's home): plugged into the destination before its state loads. */
    disks: z.array(MigratingDisk).max(MIGRATING_MAX).optional(),
    /** Home leases the VM holds: taken for the destination's QEMU once the state is in (the source gave them back),
     *  before the guest runs and before its disks are opened for writing. */
    leases: z.array(MigratingLease).max(MIGRATING_MAX).optional(),
  })
  .strict();
/** Live migration, source: the running VM's state into the stream; answered once QEMU says completed. Its QEMU then
 *  waits paused, and the VM is never started here again for a generation below `generation`: the controller's move
 *  (desired absent here) quits it, or migrate-resume runs it on here if the destination failed. */
export const VmMigrateOut = z.object({ op: z.literal('migrate-out'), generation: VmGeneration, stream: MigrationStream, to: HostName, leases: z.array(MigratingLease).max(MIGRATING_MAX).optional() }).strict();
/** The destination failed after the state left: the source takes back the leases it gave, then runs the VM on. With
 *  `ifStayed`, only a VM whose state never left is run on (its migration cancelled), one whose state left stays paused
 *  (its destination, down now, may have run it). Answered whether the VM runs on the source now. */
export const VmMigrateResume = z
  .object({ op: z.literal('migrate-resume'), leases: z.array(MigratingLease).max(MIGRATING_MAX).optional(), ifStayed: z.literal(true).optional() })
  .strict();
/** What `vm pause | unpause | reset` does on the controller's own host, done by the VM's agent on its own. */
export const VmOperate = z.object({ op: z.enum(['pause', 'unpause', 'reset']) }).strict();
/** `vm stop --to-disk` on the VM's host (its state saved in the agent's data folder, then QEMU quits; its next start
 *  there resumes it), and `vm start --discard-state`'s deletion of that state: answered yes once done. */
export const VmStateOp = z.object({ op: z.enum(['state-save', 'state-discard']) }).strict();
/** A saved state streamed over a stream the agent dials back (vm send's format: header, then QEMU's stream). `state-send`:
 *  the VM's state (a running VM saved and stopped first) from this host, deleted here once all of it went out (vm send).
 *  `state-receive`: a state into this host's states/ for `spec`'s VM, checked as `vm receive` checks it (length, sha256),
 *  refused while the VM runs here or has a state here; its next start here resumes it. Answered yes once done. */
export const VmStateSend = z.object({ op: z.literal('state-send'), stream: MigrationStream }).strict();
export const VmStateReceive = z.object({ op: z.literal('state-receive'), stream: MigrationStream, spec: VmSpec }).strict();
/** The tail of the VM's console or QEMU log on its host, or a PNG of its screen: answered with `data`. */
export const VmRead = z.object({ op: z.enum(['console-log', 'qemu-log', 'screendump']), maxBytes: z.number().int().min(1).max(VM_COMMAND_DATA_MAX_BYTES) }).strict();
/** A one-time SPICE password set on the VM's QEMU by its agent (expired after use, as on the controller's own host):
 *  answered with `data`, the password in base64. */
export const VmSpiceLogin = z.object({ op: z.literal('spice-login') }).strict();
export const VmCommand = z.discriminatedUnion('op', [VmDiskPlug, VmDiskUnplug, VmDiskQuery, VmDiskCopy, VmLeaseAcquire, VmLeaseRelease, VmMigrateIn, VmMigrateOut, VmMigrateResume, VmOperate, VmStateOp, VmStateSend, VmStateReceive, VmRead, VmSpiceLogin]);
export type VmCommand = z.infer<typeof VmCommand>;
/** Controller → agent: one step on a running VM of its host, answered by a vm-command-result with the same id. */
export const ControllerVmCommand = z.object({ type: z.literal('vm-command'), id: CommandId, vm: z.string().min(1).max(64), command: VmCommand }).strict();
/** Controller → agent: the answer to image-fetch: dial `stream` (like a migration's) and read the file's bytes from the
 *  asked offset to `size` in binary frames, closed 1000 at the end, the whole file's `sha256` to check; or the `error`
 *  (not an image file, or gone). */
export const ControllerImageStream = z
  .object({
    type: z.literal('image-stream'),
    id: CommandId,
    stream: MigrationStream.optional(),
    size: z.number().int().min(0).optional(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
    error: z.object({ code: z.custom<ErrorCode>(isErrorCode, 'a registry code'), message: z.string().max(1000) }).strict().optional(),
  })
  .strict();
export const ControllerMessage = z.discriminatedUnion('type', [ControllerAccepted, ControllerRefused, ControllerAck, ControllerVmDesired, ControllerStreamOpen, ControllerVmCommand, ControllerImageStream]);
export type ControllerMessage = z.infer<typeof ControllerMessage>;

export type Decoded<T> = { ok: true; message: T } | { ok: false; problem: string };

function decode<S extends z.ZodTypeAny>(schema: S, frame: string | Buffer): Decoded<z.output<S>> {
  const size = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length;
  if (size > AGENT_FRAME_MAX_BYTES) return { ok: false, problem: `a frame of ${size} bytes (at most ${AGENT_FRAME_MAX_BYTES})` };
  let json: unknown;
  try {
    json = JSON.parse(typeof frame === 'string' ? frame : frame.toString('utf8'));
  } catch {
    return { ok: false, problem: 'a frame that is not JSON' };
  }
  const r = schema.safeParse(json);
  if (!r.success) return { ok: false, problem: r.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; ') };
  return { ok: true, message: r.data as z.output<S> };
}

export const agentMessageDecode = (frame: string | Buffer): Decoded<AgentMessage> => decode(AgentMessage, frame);
export const controllerMessageDecode = (frame: string | Buffer): Decoded<ControllerMessage> => decode(ControllerMessage, frame);
export const agentMessageEncode = (m: AgentMessage): string => JSON.stringify(AgentMessage.parse(m));
export const controllerMessageEncode = (m: ControllerMessage): string => JSON.stringify(ControllerMessage.parse(m));

export function controllerRefusal(code: ErrorCode, message: string, hint: string): ControllerMessage {
  return { type: 'refused', code, message, hint };
}

/** The stream header's value, or undefined when it is not one. */
export function streamHeaderParse(value: string | undefined): { id: string; secret: string } | undefined {
  const m = /^([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})$/.exec(value ?? '');
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

/** Pure: the delay before reconnect attempt `attempt` (0-based): doubling from `baseMs`, capped, with full jitter in [cap/2, cap]. */
export function reconnectDelayMs(attempt: number, random: number, baseMs = 500, capMs = 15_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (ceiling / 2) * Math.min(Math.max(random, 0), 1));
}
