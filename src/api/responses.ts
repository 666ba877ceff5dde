// The success bodies of the API's routes, each declared with its route (defineRoute's `response`), and the
// error body every route can answer. Each schema is typed as its wire interface from src/contract (or the
// service's own type), so the compiler keeps them together; objects are strict, so the OpenAPI document
// refuses a key it does not describe. test/api/openapi-responses.test.ts checks the handlers' real replies.
import { Readable } from 'node:stream';
import { z, type ZodTypeAny } from 'zod';
import { ERROR_REGISTRY, type ErrorCode } from '../contract/errors.js';
import type { HostReport } from '../hypervisor/host/index.js';
import { ROLES, type AuditEntry, type GroupView, type Me, type TokenView, type UserView } from '../contract/users.js';
import { VmStatus } from '../contract/vm.js';
import type { HealthReport } from './metrics.js';
import type { ConfigLoadResult } from './route.js';

/** `{ error: { code, message, hint, details? } }`: every failure of every route. */
export const ErrorBodySchema = z
  .object({
    error: z
      .object({
        code: z.enum(Object.keys(ERROR_REGISTRY) as [ErrorCode, ...ErrorCode[]]),
        message: z.string(),
        hint: z.string(),
        details: z.unknown().optional(),
      })
      .strict(),
  })
  .strict();

/** A raw (non-JSON) body: text (logs, metrics, a .vv file) or bytes (a PNG); the route's contentType says which. */
export const RawBody = z.union([z.string(), z.instanceof(Buffer)]);
/** A body streamed as it is made (a backup archive from tar): bytes, the route's contentType says which. */
export const StreamBody = z.instanceof(Readable);
/** `{ ok: true }`: an action that has nothing else to report. */
export const OkBody = z.object({ ok: z.literal(true) }).strict();
/** `{ deleted: name }` and its kin: what an action removed. */
export const namedResult = <K extends string>(key: K) => z.object({ [key]: z.string() } as { [P in K]: z.ZodString }).strict();
export const DeletedBody = namedResult('deleted');
const Iso = z.string().datetime({ offset: true });
const IsoOrNull = Iso.nullable();

// --- users, groups, login, audit ---
export const UserViewBody = z
  .object({
    name: z.string(),
    fullName: z.string(),
    roles: z.array(z.enum(ROLES)),
    groups: z.array(z.string()),
    admin: z.boolean(),
    disabled: z.boolean(),
    keyboardLayout: z.string(),
    createdAt: Iso,
    lastLoginAt: IsoOrNull,
    directory: z.object({ source: z.string(), login: z.string().nullable() }).strict().nullable(),
    mfaEnabled: z.boolean(),
    kiosk: z.boolean(),
  })
  .strict() satisfies z.ZodType<UserView>;
/** A new user; `password` only when the daemon generated one (it is shown this once). */
export const UserCreatedBody = UserViewBody.extend({ password: z.string().optional() }).strict();
export const GroupViewBody = z.object({ name: z.string(), members: z.array(z.string()) }).strict() satisfies z.ZodType<GroupView>;
// `detail` is any JSON (zod's unknown reads as optional, hence the Omit).
export const AuditEntryBody = z
  .object({ id: z.number().int(), at: Iso, principal: z.string(), action: z.string(), target: z.string(), detail: z.unknown(), address: z.string().nullable() })
  .strict() satisfies z.ZodType<Omit<AuditEntry, 'detail'>>;
export const MeBody = z
  .object({
    user: z.string(),
    admin: z.boolean(),
    roles: z.array(z.enum(ROLES)),
    groups: z.array(z.string()),
    keyboardLayout: z.string(),
    mfa: z.object({ enabled: z.boolean(), enrolmentRequired: z.boolean() }).strict(),
  })
  .strict() satisfies z.ZodType<Me>;
export const TokenLoginBody = z.object({ token: z.string().min(1), user: z.string(), expiresAt: Iso }).strict();
export const TokenViewBody = z
  .object({ id: z.number().int(), user: z.string(), label: z.string().nullable(), createdAt: Iso, expiresAt: IsoOrNull, current: z.boolean() })
  .strict() satisfies z.ZodType<TokenView>;
export const TokenRevokedBody = z.object({ revoked: z.number().int() }).strict();
/** GET /v1/tls: absent fields are left out of the JSON (plain HTTP or only the unix socket). */
export const TlsInfoBody = z.object({ https: z.boolean(), fingerprint: z.string().optional(), subject: z.string().optional(), caPem: z.string().optional() }).strict();

// --- VMs, host, config, disks ---
export const VmStatusBody = VmStatus;
export const VmStopBody = z.object({ stopped: z.boolean(), reason: z.string().optional() }).strict();
export const VmWaitBody = z.object({ reason: z.string() }).strict();
export const HostReportBody = z
  .object({
    cpu: z
      .object({
        vendor: z.enum(['GenuineIntel', 'AuthenticAMD', 'other']),
        model: z.string(),
        vmx: z.boolean(),
        svm: z.boolean(),
        nestedPaging: z.enum(['ept', 'npt']).nullable(),
        shadowPaging: z.boolean(),
        inVm: z.boolean(),
      })
      .strict(),
    nested: z.boolean().nullable(),
    kvmModules: z.array(z.enum(['kvm_intel', 'kvm_amd', 'kvm_pvm'])),
    devKvm: z.object({ exists: z.boolean(), accessible: z.boolean(), error: z.string().optional() }).strict(),
    probe: z.object({ ran: z.boolean(), ok: z.boolean(), detail: z.string(), ms: z.number() }).strict(),
    qemu: z.object({ binary: z.string(), version: z.string().nullable() }).strict(),
    accel: z.enum(['kvm', 'tcg']),
    verdict: z.string(),
  })
  .strict() satisfies z.ZodType<HostReport>;
export const HealthBody = z.object({ ok: z.literal(true), store: z.literal('reachable'), controller: z.object({ holder: z.string(), term: z.number().int() }).strict().optional() }).strict() satisfies z.ZodType<HealthReport>;
export const ConfigLoadBody = z
  .object({ path: z.string(), added: z.array(z.string()), updated: z.array(z.string()), removed: z.array(z.string()), started: z.array(z.string()) })
  .strict() satisfies z.ZodType<ConfigLoadResult>;
export const DiskCreatedBody = z.object({ path: z.string(), format: z.string(), virtualSize: z.number().int() }).strict();

export { ImageInfoBody, ImageVersionBody, MaintenanceSessionBody, OperationBody, DesktopInfoBody, HomeInfoBody, HomeResizedBody } from './responses-images.js';
export { PoolViewBody, DesktopViewBody, SessionInfoBody, ConnectedBody, ThinClientViewBody, DisplayTicketBody } from './responses-pools.js';

/** The list of a schema's elements. */
export const listOf = <S extends ZodTypeAny>(schema: S) => z.array(schema);
