// Success bodies of the directory routes (strict; typed by src/contract/directory.ts).
import { z } from 'zod';
import type { DirectorySourceView, DirectorySyncResult, DirectoryTestResult } from '../contract/directory.js';

const nullableText = z.string().nullable();

export const DirectorySourceViewBody = z
  .object({
    name: z.string(),
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
  .strict() satisfies z.ZodType<DirectorySourceView>;

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
