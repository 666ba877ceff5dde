// Success bodies of the directory routes (strict; typed by src/contract/directory.ts).
import { z } from 'zod';
import { SourceSettingsSchema } from '../directory/stored.js';
import type { DirectoryConnectionResult, DirectorySourceView, DirectorySyncResult, DirectoryTestResult } from '../contract/directory.js';

const nullableText = z.string().nullable();

export const DirectorySourceViewBody = z
  .object({
    name: z.string(),
    origin: z.enum(['file', 'console']),
    file: nullableText,
    bindPassword: z.enum(['set', 'reference', 'none']),
    settings: SourceSettingsSchema,
    kind: z.enum(['ldap', 'ad']),
    urls: z.array(z.string()),
    tls: z.enum(['ldaps', 'starttls', 'none']),
    reachable: z.boolean().nullable(),
    checkedAt: nullableText,
    lastSyncAt: nullableText,
    lastSyncError: nullableText,
    usersFound: z.number().int().nullable(),
    ardesiaUsers: z.number().int(),
  })
  .strict() satisfies z.ZodType<DirectorySourceView, z.ZodTypeDef, unknown>; // settings' input has the schema's defaults unapplied

export const DirectoryTestResultBody = z
  .object({
    source: z.string(),
    dn: z.string(),
    stableId: z.string(),
    login: z.string(),
    displayName: z.string(),
    directoryGroups: z.array(z.string()),
    groups: z.array(z.string()),
    admin: z.boolean(),
    ardesiaUser: nullableText,
    existing: z.boolean(),
    refusal: z.enum(['disabled', 'expired', 'must-change', 'locked', 'name-taken']).nullable(),
  })
  .strict() satisfies z.ZodType<DirectoryTestResult>;

export const DirectorySyncResultBody = z
  .object({ source: z.string(), ok: z.boolean(), checked: z.number().int(), updated: z.number().int(), ended: z.array(z.string()), error: nullableText })
  .strict() satisfies z.ZodType<DirectorySyncResult>;

export const DirectoryConnectionResultBody = z
  .object({
    ok: z.boolean(),
    problem: z.enum(['unreachable', 'tls', 'bind-refused', 'search']).nullable(),
    code: nullableText,
    message: z.string(),
    hint: nullableText,
    usersFound: z.number().int().nullable(),
  })
  .strict() satisfies z.ZodType<DirectoryConnectionResult>;

export const DirectorySourceDeletedBody = z.object({ deleted: z.string(), ended: z.array(z.string()) }).strict();
