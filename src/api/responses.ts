// The success bodies the OpenAPI document describes, by "METHOD /url" of the route, with the error body
// every route can answer. test/api/openapi.test.ts checks the handlers' real responses against them.
import { z, type ZodTypeAny } from 'zod';
import { ERROR_REGISTRY, type ErrorCode } from '../contract/errors.js';
import { SessionView } from '../contract/pools.js';
import { VmStatus } from '../contract/vm.js';

export const API_RESPONSES: Record<string, ZodTypeAny> = {
  'GET /v1/vms': z.array(VmStatus),
  'GET /v1/vms/:name': VmStatus,
  'GET /v1/sessions': z.array(SessionView),
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
