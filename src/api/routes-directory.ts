// Directory sources: state for the console, `ardesia directory test USER`, `ardesia directory sync`. Administrators only.
import { ArdesiaError } from '../contract/errors.js';
import { DirectoryTestBody } from '../contract/directory.js';
import type { DirectoryService } from '../directory/service.js';
import { auditAppend } from '../audit/log.js';
import { DirectorySourceViewBody, DirectorySyncResultBody, DirectoryTestResultBody } from './responses-directory.js';
import { listOf } from './responses.js';
import { type ApiRoute, type AppContext, defineRoute } from './route.js';

function directoryOf(app: AppContext): DirectoryService {
  if (!app.directory) throw new ArdesiaError('DIRECTORY_NOT_CONFIGURED', 'this daemon has no directory source');
  return app.directory;
}

export const directoryRoutes: ApiRoute[] = [
  defineRoute({
    method: 'GET',
    url: '/v1/directory/sources',
    summary: 'Directory sources with their state: reachable, last sync, users found (empty without --directory)',
    access: 'admin',
    response: listOf(DirectorySourceViewBody),
    handler: async ({ app }) => (app.directory ? app.directory.list() : []),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/directory/test',
    summary: 'What a login of this name would find (entry, groups, mapped entitlements), without a password',
    access: 'admin',
    body: DirectoryTestBody,
    response: DirectoryTestResultBody,
    handler: async ({ app, body }) => directoryOf(app).test(body.user),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/directory/sync',
    summary: 'Sync now: groups and roles updated, sessions of removed or disabled directory users ended',
    access: 'admin',
    response: listOf(DirectorySyncResultBody),
    handler: async ({ app, principal, address }) => {
      const results = await directoryOf(app).sync();
      await auditAppend(app.users.db, principal ?? 'anonymous', 'directory.sync', 'directory', results.map((r) => ({ source: r.source, ok: r.ok, ended: r.ended })), address);
      return results;
    },
  }),
];
