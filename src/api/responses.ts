// The success bodies the OpenAPI document describes, by "METHOD /url" of the route, with the error body
// every route can answer. test/api/openapi.test.ts checks the handlers' real responses against them.
import { z, type ZodTypeAny } from 'zod';
import { ERROR_REGISTRY, type ErrorCode } from '../contract/errors.js';
import { DesktopState, SessionView, type SessionInfo } from '../contract/pools.js';
import { ROLES, type AuditEntry, type GroupView, type UserView } from '../contract/users.js';
import { VmStatus } from '../contract/vm.js';

// Typed as the wire interfaces, so the compiler keeps these and src/contract together.
const UserViewBody: z.ZodType<UserView> = z
  .object({
    name: z.string(),
    fullName: z.string(),
    roles: z.array(z.enum(ROLES)),
    groups: z.array(z.string()),
    admin: z.boolean(),
    disabled: z.boolean(),
    keyboardLayout: z.string(),
    createdAt: z.string(),
    lastLoginAt: z.string().nullable(),
  })
  .strict();
const GroupViewBody: z.ZodType<GroupView> = z.object({ name: z.string(), members: z.array(z.string()) }).strict();
// `detail` is any JSON (zod's unknown reads as optional, hence the Omit).
const AuditEntryBody: z.ZodType<Omit<AuditEntry, 'detail'>> = z
  .object({ id: z.number().int(), at: z.string(), principal: z.string(), action: z.string(), target: z.string(), detail: z.unknown(), address: z.string().nullable() })
  .strict();

const SessionInfoBody: z.ZodType<SessionInfo> = SessionView.extend({
  state: DesktopState,
  since: z.string(),
  imageVersion: z.number().int(),
  clients: z.number().int(),
  lastClient: z.object({ address: z.string(), thinClient: z.string().optional(), at: z.string() }).strict().nullable(),
  clipboardReady: z.boolean(),
}).strict();

export const API_RESPONSES: Record<string, ZodTypeAny> = {
  'GET /v1/vms': z.array(VmStatus),
  'GET /v1/vms/:name': VmStatus,
  'GET /v1/sessions': z.array(SessionInfoBody),
  'GET /v1/users': z.array(UserViewBody),
  'GET /v1/groups': z.array(GroupViewBody),
  'GET /v1/audit': z.array(AuditEntryBody),
};

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
