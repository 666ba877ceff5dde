// Directory sources made in the console: the API's input (SourceSchema with a write-only bind password), the store rows.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ArdesiaError } from '../contract/errors.js';
import type { Store } from '../store/db.js';
import { type DirectorySourceConfig, secretRead, SourceSchema, sourceProblems } from './config.js';
import { now } from '../lib/time.js';

const SECRET_REF = /^(file:\/.+|env:[A-Za-z_][A-Za-z0-9_]*)$/;

/**
 * The file's SourceSchema, except the bind password: a file:/env: reference as in the file, or a literal typed in the
 * console (kept in the store, never shown again), or absent on a PUT to keep the stored one.
 */
export const SourceSettingsSchema = SourceSchema.extend({
  bind: z.object({ dn: z.string().min(3), password: z.string().min(1).max(1024).optional() }).strict().optional(),
});
export const SourceInputSchema = SourceSettingsSchema.superRefine((s, ctx) => {
  for (const p of sourceProblems(s)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
});
export type SourceInput = z.output<typeof SourceInputSchema>;

/** The settings a route shows: the input's shape with the password only when it is a reference. */
export type SourceSettings = z.output<typeof SourceSettingsSchema>;

/** A source as the store keeps it: its config (password only as a reference) and a literal secret apart. */
export interface StoredSource {
  config: DirectorySourceConfig;
  secret: string | undefined;
  /** Changes whenever the row does: a host rebuilds its client for the source only then. */
  version: string;
}

/** Every problem of a body as `path: message` (DIRECTORY_SOURCE_INVALID), or the input. Pure. */
export function sourceInputParse(body: unknown): SourceInput {
  const parsed = SourceInputSchema.safeParse(body ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
    throw new ArdesiaError('DIRECTORY_SOURCE_INVALID', `directory source: ${problems.join('; ')}`, { problems });
  }
  return parsed.data;
}

/** Which references a console source may use: not every file the daemon reads nor every variable it has is a bind password. */
export interface RefPolicy {
  /** Folders whose files a `file:` reference may name (/etc/ardesia/directory-secrets, DATA_DIR/directory-secrets). */
  secretDirs: readonly string[];
  env: NodeJS.ProcessEnv;
}
/** The variables a console source may name: the daemon's others (its database URL…) stay out of reach. */
export const CONSOLE_ENV_PREFIX = 'ARDESIA_DIRECTORY_';

function refProblem(ref: string, policy: RefPolicy): string | undefined {
  if (ref.startsWith('env:')) {
    return ref.slice(4).startsWith(CONSOLE_ENV_PREFIX) ? undefined : `a console source may name only variables ${CONSOLE_ENV_PREFIX}…, not ${ref.slice(4)}`;
  }
  const path = resolve(ref.slice(5)); // "..": the folder check is on the path the daemon will open
  if (policy.secretDirs.some((d) => path.startsWith(`${resolve(d)}/`))) return undefined;
  return `a console source may name only files in ${policy.secretDirs.join(' or ')} (so that it cannot send another file's first line to a server)`;
}

/** The settings that say where a stored password goes: changed, the password must be typed again. */
const peerOf = (c: { urls: string[]; bind?: { dn: string }; startTls: boolean; allowInsecure: boolean; caFile?: string; tlsServerName?: string }) =>
  JSON.stringify([c.urls, c.bind?.dn, c.startTls, c.allowInsecure, c.caFile ?? null, c.tlsServerName ?? null]);

/**
 * The config and secret an input makes, `previous` giving the stored password when the input has none (a PUT that keeps it).
 * Then the files and variables it names are read, as at the daemon's start, so a wrong path fails the save, not a login.
 */
export function sourceResolve(input: SourceInput, previous: StoredSource | undefined, policy: RefPolicy): { config: DirectorySourceConfig; secret: string | undefined } {
  const problems: string[] = [];
  let secret: string | undefined;
  let bind: DirectorySourceConfig['bind'];
  if (input.bind) {
    const typed = input.bind.password;
    if (typed === undefined) {
      if (previous?.config.bind && previous.secret !== undefined && peerOf(previous.config) !== peerOf(input)) {
        // Else an administrator could point the source at a server of theirs and receive the password no route shows.
        problems.push('bind.password: the servers, TLS settings or bind DN changed: type the password again (a stored password goes only where it was given for)');
      } else if (previous?.config.bind) {
        secret = previous.secret;
        bind = { dn: input.bind.dn, password: previous.config.bind.password };
      } else problems.push("bind.password: give the bind account's password (or a file:/absolute/path or env:VARIABLE reference)");
    } else if (SECRET_REF.test(typed)) {
      const bad = refProblem(typed, policy);
      if (bad) problems.push(`bind.password: ${bad}`);
      else bind = { dn: input.bind.dn, password: typed };
    } else {
      secret = typed;
      bind = { dn: input.bind.dn, password: '' }; // '' = the store's secret; never a readable reference
    }
  }
  if (bind && secret === undefined) {
    try {
      secretRead(bind.password, policy.env);
    } catch (err) {
      problems.push(`bind.password: ${(err as Error).message}`);
    }
  }
  if (input.caFile) {
    try {
      readFileSync(input.caFile);
    } catch (err) {
      problems.push(`caFile: ${(err as Error).message}`);
    }
  }
  if (problems.length) throw new ArdesiaError('DIRECTORY_SOURCE_INVALID', `directory source ${input.name}: ${problems.join('; ')}`, { problems });
  return { config: { ...input, bind }, secret };
}

/** What the routes show of a config: a literal secret is never there, only whether one is set. */
export function settingsOf(config: DirectorySourceConfig): { settings: SourceSettings; bindPassword: 'set' | 'reference' | 'none' } {
  if (!config.bind) return { settings: { ...config, bind: undefined }, bindPassword: 'none' };
  const ref = SECRET_REF.test(config.bind.password);
  return { settings: { ...config, bind: ref ? { ...config.bind } : { dn: config.bind.dn } }, bindPassword: ref ? 'reference' : 'set' };
}

export async function storedSourcesRead(db: Store): Promise<Map<string, StoredSource>> {
  const rows = await db.selectFrom('directory_sources').selectAll().orderBy('name').execute();
  const out = new Map<string, StoredSource>();
  for (const r of rows) {
    // Stored as its settings (a literal password never in them): a row a later schema refuses is left out, never half-used.
    const parsed = SourceInputSchema.safeParse(JSON.parse(r.config));
    if (!parsed.success) continue;
    const s = parsed.data;
    out.set(r.name, { config: { ...s, bind: s.bind && { dn: s.bind.dn, password: s.bind.password ?? '' } }, secret: r.bind_secret ?? undefined, version: `${r.updated_at}\n${r.config}\n${r.bind_secret ?? ''}` });
  }
  return out;
}

/** Writes a source (made or replaced); `settings` is what settingsOf gives, so the literal secret stays in its own column. */
export async function storedSourceWrite(db: Store, config: DirectorySourceConfig, secret: string | undefined, replace: boolean): Promise<void> {
  const at = now();
  const row = { config: JSON.stringify(settingsOf(config).settings), bind_secret: secret ?? null, updated_at: at };
  if (replace) await db.updateTable('directory_sources').set(row).where('name', '=', config.name).execute();
  else await db.insertInto('directory_sources').values({ name: config.name, created_at: at, ...row }).execute();
}
