// Directory sources (`serve --directory FILE`): the file's schema, parsed once at start with every problem listed by path.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ArdesiaError } from '../contract/errors.js';

const GroupName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'an Ardesia group name: 1-63 letters, digits, dot, dash or underscore');
/** A secret is never written in the file itself: `file:/path` (first line) or `env:NAME`. */
export const SecretRef = z.string().regex(/^(file:\/.+|env:[A-Za-z_][A-Za-z0-9_]*)$/, 'give the password as file:/absolute/path or env:VARIABLE, never inline');
const LdapUrl = z.string().regex(/^ldaps?:\/\/[^/\s]+\/?$/i, 'an ldap:// or ldaps:// URL with a host (and port)');

export const SourceSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, '1-32 lower-case letters, digits or dashes'),
    kind: z.enum(['ldap', 'ad']),
    /** Tried in order; the first that answers serves the request. */
    urls: z.array(LdapUrl).min(1),
    /** StartTLS on ldap:// URLs (ldaps:// URLs are TLS from the start). */
    startTls: z.boolean().default(false),
    /** PEM file of the CA that signed the servers' certificates; without it the system's CAs are trusted. */
    caFile: z.string().startsWith('/', 'an absolute path').optional(),
    /** The name the servers' certificates carry when it differs from the URL's host (Samba's DC1.REALM). */
    tlsServerName: z.string().min(1).optional(),
    /** Plain LDAP (passwords in clear on the wire): only when said explicitly. */
    allowInsecure: z.boolean().default(false),
    /** The account that searches; absent = anonymous search. */
    bind: z.object({ dn: z.string().min(3), password: SecretRef }).strict().optional(),
    userBase: z.string().min(3),
    groupBase: z.string().min(3),
    /** The attribute a typed name is looked up in: uid, sAMAccountName or userPrincipalName. */
    loginAttribute: z.enum(['uid', 'sAMAccountName', 'userPrincipalName', 'cn', 'mail']).optional(),
    /** AD only: the realm users may type (COUNCIL.TEST or COUNCIL); others are refused as unknown. */
    realms: z.array(z.string().min(1)).default([]),
    userFilter: z.string().regex(/^\(.*\)$/, 'an LDAP filter in parentheses').optional(),
    /** Directory group (its cn, or full DN) → Ardesia groups. */
    groups: z.record(z.string().min(1), z.array(GroupName)).default({}),
    /** Members of these directory groups (cn or DN) are Ardesia administrators. */
    adminGroups: z.array(z.string().min(1)).default([]),
    /** Directory attribute that holds the keyboard layout, if any. */
    keyboardLayoutAttribute: z.string().min(1).optional(),
    timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
  })
  .strict();

export const DirectoryFileSchema = z
  .object({
    sources: z.array(SourceSchema).min(1),
    /** How often the sync runs (seconds); 0 = only on `ardesia directory sync`. */
    syncIntervalSeconds: z.number().int().min(0).max(86_400 * 7).default(900),
  })
  .strict()
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.sources.forEach((s, i) => {
      if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: ['sources', i, 'name'], message: `the name ${s.name} is used twice` });
      seen.add(s.name);
      for (const p of sourceProblems(s)) ctx.addIssue({ code: 'custom', path: ['sources', i, ...p.path], message: p.message });
    });
  });

/** The checks across a source's fields, shared by the file and the console's API (same words, same paths). */
export function sourceProblems(s: { urls: string[]; startTls: boolean; allowInsecure: boolean; realms: string[]; kind: string }): { path: string[]; message: string }[] {
  const out: { path: string[]; message: string }[] = [];
  const plain = s.urls.some((u) => u.toLowerCase().startsWith('ldap://'));
  if (plain && !s.startTls && !s.allowInsecure) {
    out.push({ path: ['urls'], message: 'ldap:// without startTls sends passwords in clear: use ldaps://, set startTls, or set allowInsecure: true' });
  }
  if (s.realms.length && s.kind !== 'ad') out.push({ path: ['realms'], message: 'realms are for kind ad' });
  return out;
}

export type DirectoryFile = z.output<typeof DirectoryFileSchema>;
export type DirectorySourceConfig = z.output<typeof SourceSchema>;

/** Every problem of the file as `path: message`, or the parsed file. Pure: the input is the file's data. */
export function directoryConfigParse(data: unknown, where: string): DirectoryFile {
  const parsed = DirectoryFileSchema.safeParse(data ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
    throw new ArdesiaError('DIRECTORY_CONFIG_INVALID', `directory configuration ${where}: ${problems.join('; ')}`, { problems });
  }
  return parsed.data;
}

/** The login attribute a kind uses when the file names none. */
export const loginAttributeOf = (s: DirectorySourceConfig): string => s.loginAttribute ?? (s.kind === 'ad' ? 'sAMAccountName' : 'uid');

/** Reads and checks the file, then the secrets and CA files it names (so a missing one fails the start, not the first login). */
export function directoryConfigLoad(path: string, env: NodeJS.ProcessEnv = process.env): DirectoryFile {
  let data: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    data = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ArdesiaError('DIRECTORY_CONFIG_INVALID', `directory configuration ${path}: ${(err as Error).message}`);
  }
  const file = directoryConfigParse(data, path);
  const problems: string[] = [];
  file.sources.forEach((s, i) => {
    if (s.bind) {
      try {
        secretRead(s.bind.password, env);
      } catch (err) {
        problems.push(`sources.${i}.bind.password: ${(err as Error).message}`);
      }
    }
    if (s.caFile) {
      try {
        readFileSync(s.caFile);
      } catch (err) {
        problems.push(`sources.${i}.caFile: ${(err as Error).message}`);
      }
    }
  });
  if (problems.length) throw new ArdesiaError('DIRECTORY_CONFIG_INVALID', `directory configuration ${path}: ${problems.join('; ')}`, { problems });
  return file;
}

/** The secret a `file:`/`env:` reference names; read at each use so a rotated bind password needs no restart. */
export function secretRead(ref: string, env: NodeJS.ProcessEnv = process.env): string {
  if (ref.startsWith('env:')) {
    const v = env[ref.slice(4)];
    if (v === undefined || v === '') throw new Error(`the environment variable ${ref.slice(4)} is not set`);
    return v;
  }
  const v = readFileSync(ref.slice(5), 'utf8').split('\n')[0]!;
  if (v === '') throw new Error(`${ref.slice(5)} is empty`);
  return v;
}
