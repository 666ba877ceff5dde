// Hosts of the cluster (administrators only): list, show with what is left there, drain, undrain, evict, remove.
import { z } from 'zod';
import { EVICT_GRACE_DEFAULT_S, HOST_LABELS_FROM, HostLabelsBody, HostName, HostState, HostStorage, KsmMode, VmMigrationView, type HostDetail, type HostEviction, type HostView, type KsmReport } from '../contract/hosts.js';
import { AGENT_JOIN_PATH, AgentJoinReply, AgentJoinRequest } from '../contract/agent.js';
import { JOIN_TOKEN_DEFAULT_TTL_MS, JOIN_TOKEN_MAX_TTL_MS } from '../cluster/agent-join.js';
import { listOf, namedResult } from './responses.js';
import { type ApiRoute, defineRoute, type RouteInput } from './route.js';

const HostParams = z.object({ name: HostName }).strict();
const Iso = z.string().datetime({ offset: true });
const count = z.number().int().min(0);

export const KsmReportBody = z
  .object({
    available: z.boolean(),
    mode: KsmMode.nullable(),
    enabled: z.boolean(),
    pageSizeBytes: count,
    savedBytes: count,
    pagesSharing: count,
    pagesShared: count,
    pagesUnshared: count,
    fullScans: count,
    generalProfitBytes: z.number().int().nullable(),
    pagesToScan: count.nullable(),
    sleepMillisecs: count.nullable(),
  })
  .strict() satisfies z.ZodType<KsmReport>;

const KsmBody = z.object({ mode: KsmMode }).strict();
const MigrateParams = z.object({ name: z.string().min(1).max(64) }).strict();
const MigrateBody = z.object({ host: HostName.optional() }).strict().default({});
const EvictBody = z.object({ graceSeconds: z.number().int().min(0).max(3600).default(EVICT_GRACE_DEFAULT_S) }).strict().default({});
export const HostEvictionBody = z
  .object({
    host: z.string(),
    graceSeconds: count,
    vms: z.array(z.object({ name: z.string(), outcome: z.enum(['stopped', 'forced', 'ordered', 'failed']), detail: z.string().nullable() }).strict()),
  })
  .strict() satisfies z.ZodType<HostEviction>;

export const HostViewBody = z
  .object({
    name: z.string(),
    state: HostState,
    stateReason: z.string().nullable(),
    labels: z.array(z.string()),
    labelsFrom: z.enum(HOST_LABELS_FROM),
    capacity: z.object({ memoryMiB: count, vcpus: count, memoryOvercommit: z.number().min(0.1), cpuOvercommit: z.number().min(0.1) }).strict(),
    used: z.object({ memoryMiB: count, vcpus: count, runningVms: count, desktopsInSession: count, spares: count }).strict(),
    heartbeatAt: Iso,
    controller: z.boolean(),
    storage: HostStorage,
    ksm: KsmReportBody.nullable(),
    agent: z
      .object({
        version: z.string(),
        qemuVersion: z.string().nullable(),
        accel: z.enum(['kvm', 'tcg']),
        kvmProbe: z.object({ ok: z.boolean(), detail: z.string() }).strict(),
        load: z.object({ loadAverage1m: z.number().min(0), memoryFreeMiB: count }).strict().nullable(),
        linked: z.boolean(),
        ready: z.boolean(),
      })
      .strict()
      .nullable(),
    qemu: z.object({ version: z.string().nullable(), accel: z.enum(['kvm', 'tcg']) }).strict().nullable(),
    qemuMismatch: z.string().nullable(),
  })
  .strict() satisfies z.ZodType<HostView>;

export const HostDetailBody = HostViewBody.extend({
  desktops: z.array(z.object({ name: z.string(), pool: z.string(), state: z.string(), user: z.string().nullable() }).strict()),
  vms: z.array(z.string()),
  savedStates: z.array(z.string()),
}).strict() satisfies z.ZodType<HostDetail>;

const JoinTokenBody = z.object({ validSeconds: z.number().int().min(10).max(JOIN_TOKEN_MAX_TTL_MS / 1000).default(JOIN_TOKEN_DEFAULT_TTL_MS / 1000) }).strict();
const JoinTokenReply = z.object({ host: z.string(), token: z.string(), expiresAt: Iso, controller: z.string(), fingerprint: z.string() }).strict();

const callerOf = ({ principal, address }: Pick<RouteInput, 'principal' | 'address'>) => ({ name: principal ?? 'unknown', address });

export const hostRoutes: ApiRoute[] = [
  defineRoute({
    method: 'GET',
    url: '/v1/hosts',
    summary: 'List the hosts: state, capacity, what runs there (a single install is a one-node cluster)',
    access: 'admin',
    response: listOf(HostViewBody),
    handler: async ({ app }) => app.hosts.list(),
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/hosts/:name',
    summary: 'Show a host and the desktops and VMs left on it',
    access: 'admin',
    params: HostParams,
    response: HostDetailBody,
    handler: async ({ app, params }) => app.hosts.show(params.name),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/hosts/:name/drain',
    summary: 'Drain a host: no new desktops, spares or VMs there; its spares stop now; sessions end there at their logoff',
    access: 'admin',
    params: HostParams,
    response: HostDetailBody,
    handler: async (input) => input.app.hosts.drain(input.params.name, callerOf(input)),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/hosts/:name/undrain',
    summary: 'End a drain or maintenance: the host takes new desktops, spares and VMs again',
    access: 'admin',
    params: HostParams,
    response: HostDetailBody,
    handler: async (input) => input.app.hosts.undrain(input.params.name, callerOf(input)),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/hosts/:name/evict',
    summary: "Evict a host: drained, and every VM there stopped (power button, by force after the grace); an agent without a link gets the order when it reconnects",
    access: 'admin',
    params: HostParams,
    body: EvictBody,
    response: HostEvictionBody,
    handler: async (input) => input.app.hosts.evict(input.params.name, callerOf(input), input.app.vms, input.body.graceSeconds),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/vms/:name/migrate',
    summary: "Move a running VM or persistent desktop to another host by live migration (to `host`, the controller's own only when named; or where placement puts it among agents' hosts)",
    access: 'admin',
    params: MigrateParams,
    body: MigrateBody,
    response: VmMigrationView,
    handler: async (input) => input.app.agents.migrations.migrate(input.params.name, callerOf(input), input.body.host),
  }),
  defineRoute({
    method: 'PUT',
    url: '/v1/hosts/:name/labels',
    summary: "Set a host's labels (refused while its serve --host-label sets them)",
    access: 'admin',
    params: HostParams,
    body: HostLabelsBody,
    response: HostDetailBody,
    handler: async (input) => input.app.hosts.setLabels(input.params.name, input.body.labels, callerOf(input)),
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/hosts/:name/ksm',
    summary: "Read KSM (kernel same-page merging) on the controller's own host: on or off, memory saved",
    access: 'admin',
    params: HostParams,
    response: KsmReportBody,
    handler: async ({ app, params }) => app.hosts.ksmShow(params.name),
  }),
  defineRoute({
    method: 'PUT',
    url: '/v1/hosts/:name/ksm',
    summary: "Turn KSM on (scanning at Ardesia's rate), off (merged pages stay until written) or unmerge (every page copied back, refused without the room)",
    access: 'admin',
    params: HostParams,
    body: KsmBody,
    response: KsmReportBody,
    handler: async (input) => input.app.hosts.ksmSet(input.params.name, input.body.mode, callerOf(input)),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/hosts/:name/join-token',
    summary: "Print a one-time join token for a new host's agent (carries the controller's URL and certificate fingerprint; PostgreSQL store only)",
    access: 'admin',
    params: HostParams,
    body: JoinTokenBody,
    response: JoinTokenReply,
    handler: async (input) => input.app.agents.join.tokenIssue(input.params.name, input.body.validSeconds * 1000, callerOf(input)),
  }),
  defineRoute({
    method: 'POST',
    url: AGENT_JOIN_PATH,
    summary: "Trade a join token for the agent's own credential (once; the token's secret is the authentication)",
    access: 'public',
    body: AgentJoinRequest,
    response: AgentJoinReply,
    handler: async ({ app, body, address }) => app.agents.join.exchange(body, address),
  }),
  defineRoute({
    method: 'DELETE',
    url: '/v1/hosts/:name',
    summary: "Remove a host (refused while anything runs there, and for the controller's own host)",
    access: 'admin',
    params: HostParams,
    response: namedResult('removed'),
    handler: async (input) => input.app.hosts.remove(input.params.name, callerOf(input)),
  }),
];
