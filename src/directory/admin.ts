// Directory sources made, replaced, deleted and tried from the console/API; the file's sources stay read-only here.
import { auditAppend } from '../audit/log.js';
import type { Actor } from '../auth/users.js';
import type { DirectoryConnectionResult, DirectorySourceView } from '../contract/directory.js';
import { ArdesiaError } from '../contract/errors.js';
import { type ContactProblem, DirectorySource } from './client.js';
import type { DirectoryService } from './service.js';
import { settingsOf, sourceInputParse, sourceResolve, type StoredSource, storedSourcesRead, storedSourceWrite } from './stored.js';

function notFromFile(svc: DirectoryService, name: string): void {
  if (svc.isFileSource(name)) {
    throw new ArdesiaError('DIRECTORY_SOURCE_FROM_FILE', `the directory source ${name} comes from ${svc.filePath ?? 'the --directory file'}: the console and the API cannot change it`);
  }
}

async function storedOf(svc: DirectoryService, name: string): Promise<StoredSource | undefined> {
  return (await storedSourcesRead(svc.users.db)).get(name);
}

/** One contact with the saved settings so the console shows at once whether the source answers (a failure is its state, not an error). */
async function probe(svc: DirectoryService, name: string): Promise<DirectorySourceView> {
  await svc.refresh();
  const source = svc.sources.find((s) => s.name === name);
  if (source) {
    const st = svc.stateOf(name);
    try {
      st.usersFound = await source.userCount();
      svc.mark(name, true);
      st.lastSyncError = null;
    } catch (err) {
      svc.mark(name, false);
      st.lastSyncError = (err as Error).message;
    }
  }
  return (await svc.list()).find((v) => v.name === name)!;
}

/** What the audit keeps of a change: the settings, never a literal password. */
const auditDetail = (config: Parameters<typeof settingsOf>[0]) => {
  const shown = settingsOf(config);
  return { ...shown.settings, bindPassword: shown.bindPassword };
};

export async function directorySourceCreate(svc: DirectoryService, body: unknown, actor: Actor): Promise<DirectorySourceView> {
  const input = sourceInputParse(body);
  notFromFile(svc, input.name);
  if (await storedOf(svc, input.name)) throw new ArdesiaError('DIRECTORY_SOURCE_EXISTS', `the directory source ${input.name} exists`);
  const { config, secret } = sourceResolve(input, undefined, svc.refPolicy);
  await storedSourceWrite(svc.users.db, config, secret, false);
  await auditAppend(svc.users.db, actor.principal, 'directory.source-create', input.name, auditDetail(config), actor.address);
  return probe(svc, input.name);
}

/** PUT: every setting replaced; a bind without a password keeps the stored one (literal or reference). */
export async function directorySourceReplace(svc: DirectoryService, name: string, body: unknown, actor: Actor): Promise<DirectorySourceView> {
  notFromFile(svc, name);
  const previous = await storedOf(svc, name);
  if (!previous) throw new ArdesiaError('DIRECTORY_SOURCE_NOT_FOUND', `there is no directory source ${name} made in the console`);
  const input = sourceInputParse({ ...(body as object), name });
  const { config, secret } = sourceResolve(input, previous, svc.refPolicy);
  await storedSourceWrite(svc.users.db, config, secret, true);
  await auditAppend(svc.users.db, actor.principal, 'directory.source-replace', name, auditDetail(config), actor.address);
  return probe(svc, name);
}

/** Users the source made stay (their homes too), but log in through it no more: their sessions and tokens end now. */
export async function directorySourceDelete(svc: DirectoryService, name: string, actor: Actor): Promise<{ deleted: string; ended: string[] }> {
  notFromFile(svc, name);
  if (!(await storedOf(svc, name))) throw new ArdesiaError('DIRECTORY_SOURCE_NOT_FOUND', `there is no directory source ${name} made in the console`);
  await svc.users.db.deleteFrom('directory_sources').where('name', '=', name).execute();
  const rows = await svc.users.db.selectFrom('users').select('name').where('directory_source', '=', name).orderBy('name').execute();
  for (const r of rows) await svc.users.credentialsRevoke(r.name, `the directory source ${name} was deleted`);
  const ended = rows.map((r) => r.name);
  await auditAppend(svc.users.db, actor.principal, 'directory.source-delete', name, { ended }, actor.address);
  await svc.refresh();
  return { deleted: name, ended };
}

/** "Test connection": binds with candidate settings (a console source's stored password when none is typed), saving nothing. */
export async function directoryConnectionTest(svc: DirectoryService, body: unknown): Promise<DirectoryConnectionResult> {
  const input = sourceInputParse(body);
  const previous = svc.isFileSource(input.name) ? undefined : await storedOf(svc, input.name);
  const { config, secret } = sourceResolve(input, previous, svc.refPolicy);
  try {
    const usersFound = await new DirectorySource(config, secret).userCount();
    return { ok: true, problem: null, code: null, message: `the directory answered: ${usersFound} user entries under ${config.userBase}`, hint: null, usersFound };
  } catch (err) {
    // The server answered but the search failed (a user base that does not exist, a filter it refuses).
    if (!(err instanceof ArdesiaError)) return { ok: false, problem: 'search', code: null, message: `the search under ${config.userBase} failed: ${(err as Error).message}`, hint: 'Check the user base DN (and the user filter) of the source.', usersFound: null };
    const problem = ((err.details as { problem?: ContactProblem } | undefined)?.problem ?? 'unreachable') satisfies ContactProblem;
    return { ok: false, problem, code: err.code, message: err.message, hint: err.hint, usersFound: null };
  }
}
