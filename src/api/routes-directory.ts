// Directory sources: state for the console, `ardesia directory test USER`, `ardesia directory sync`. Administrators only.
import { z } from 'zod';
import { ArdesiaError } from '../contract/errors.js';
import { directoryConnectionTest, directorySourceCreate, directorySourceDelete, directorySourceReplace } from '../directory/admin.js';
import { DirectoryTestBody } from '../contract/directory.js';
import type { DirectoryService } from '../directory/service.js';
import { auditAppend } from '../audit/log.js';
import { DirectoryConnectionResultBody, DirectorySourceDeletedBody, DirectorySourceViewBody, DirectorySyncResultBody, DirectoryTestResultBody } from './responses-directory.js';
import { listOf } from './responses.js';
import { type ApiRoute, type AppContext, defineRoute } from './route.js';

function directoryOf(app: AppContext): DirectoryService {
  if (!app.directory) throw new ArdesiaError('DIRECTORY_NOT_CONFIGURED', 'this daemon has no directory service');
  return app.directory;
}

/** A source's settings; checked inside by SourceSchema (the file's) so every problem is listed by path with its own code. */
const SourceBody = z
  .record(z.string(), z.unknown())
  .describe('One source as an entry of the --directory file\'s `sources` (README "Directory logins"): name, kind, urls, startTls, caFile, tlsServerName, allowInsecure, bind { dn, password }, userBase, groupBase, loginAttribute, realms, userFilter, groups, adminGroups, keyboardLayoutAttribute, timeoutMs. bind.password: a file:/env: reference, or the password (kept in the store, never returned); absent on PUT = keep the stored one.');
const SourceParams = z.object({ name: z.string().min(1).max(64) }).strict();
const actorOf = (principal: string | undefined, address: string) => ({ principal: principal ?? 'anonymous', address });

export const directoryRoutes: ApiRoute[] = [
  defineRoute({
    method: 'GET',
    url: '/v1/directory/sources',
    summary: 'Directory sources (the --directory file\'s and the console\'s) with their state: reachable, last sync, users found',
    access: 'admin',
    response: listOf(DirectorySourceViewBody),
    handler: async ({ app }) => (app.directory ? app.directory.list() : []),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/directory/sources',
    summary: 'Make a directory source (SourceSchema; bind password a file:/env: reference or a literal kept in the store, never shown)',
    access: 'admin',
    body: SourceBody,
    status: 201,
    response: DirectorySourceViewBody,
    handler: async ({ app, body, principal, address }) => directorySourceCreate(directoryOf(app), body, actorOf(principal, address)),
  }),
  defineRoute({
    method: 'PUT',
    url: '/v1/directory/sources/:name',
    summary: "Replace a console source's settings (without a bind password the stored one is kept); file sources are read-only",
    access: 'admin',
    params: SourceParams,
    body: SourceBody,
    response: DirectorySourceViewBody,
    handler: async ({ app, params, body, principal, address }) => directorySourceReplace(directoryOf(app), params.name, body, actorOf(principal, address)),
  }),
  defineRoute({
    method: 'DELETE',
    url: '/v1/directory/sources/:name',
    summary: 'Delete a console source: its users stay but log in through it no more (their sessions and tokens end)',
    access: 'admin',
    params: SourceParams,
    response: DirectorySourceDeletedBody,
    handler: async ({ app, params, principal, address }) => directorySourceDelete(directoryOf(app), params.name, actorOf(principal, address)),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/directory/connection-test',
    summary: 'Test connection: bind and search with candidate settings before saving; says what failed (unreachable, TLS, bind refused)',
    access: 'admin',
    body: SourceBody,
    response: DirectoryConnectionResultBody,
    handler: async ({ app, body }) => directoryConnectionTest(directoryOf(app), body),
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
