// Login, users, groups and the audit log. Self-service checks (own profile, own password) are made here with `who`.
import { z } from 'zod';
import { auditQuery } from '../audit/query.js';
import { sessionCookie, sessionCookieClear } from '../auth/cookies.js';
import { sessionCookieMaxAgeS } from '../auth/sessions.js';
import { loginTokenRevoke, loginTokensList } from '../auth/login-tokens.js';
import type { Actor } from '../auth/users.js';
import { ArdesiaError } from '../contract/errors.js';
import {
  AuditQuery,
  GroupCreateBody,
  LoginBody,
  PasswordBody,
  TokenBody,
  UserCreateBody,
  UserPatchBody,
} from '../contract/users.js';
import { AuditEntryBody, DeletedBody, GroupViewBody, MeBody, OkBody, TokenLoginBody, TokenRevokedBody, TokenViewBody, UserCreatedBody, UserViewBody, listOf } from './responses.js';
import { type ApiRoute, defineRoute, type Principal, type RouteInput } from './route.js';

const UserParams = z.object({ user: z.string() });
const GroupParams = z.object({ group: z.string() });
const TokenParams = z.object({ id: z.coerce.number().int().min(1) });
const TokenListQuery = z.object({ user: z.string().max(63).optional(), all: z.enum(['true', 'false']).transform((v) => v === 'true').optional() }).strict();

const actorOf = (input: Pick<RouteInput, 'who' | 'address'>): Actor => ({ principal: input.who?.name ?? 'anonymous', address: input.address });
const signedIn = (who: Principal | undefined): Principal => {
  if (!who) throw new ArdesiaError('UNAUTHENTICATED', 'log in first');
  return who;
};
/** Administrators may act on anyone; a user only on themself. */
function adminOrSelf(who: Principal | undefined, user: string, what: string): Principal {
  const me = signedIn(who);
  if (!me.admin && me.name !== user) throw new ArdesiaError('FORBIDDEN', `only an administrator may ${what} of another user`);
  return me;
}

const authRoutes: ApiRoute[] = [
  defineRoute({
    method: 'POST',
    url: '/v1/auth/login',
    summary: 'Log in with a user name and password; sets the browser session cookie',
    access: 'public',
    body: LoginBody,
    response: MeBody,
    handler: async ({ app, body, address, userAgent, secure, setCookie }) => {
      const { user, password, code } = body;
      const { me, sessionId } = await app.login.sessionLogin(user, password, address, userAgent, code);
      setCookie(sessionCookie(sessionId, { secure, maxAgeS: sessionCookieMaxAgeS() }));
      return me;
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/auth/logout',
    summary: 'End this browser session (or revoke this login token)',
    access: 'authenticated',
    mfaEnrolment: true,
    kiosk: true,
    response: OkBody,
    handler: async ({ app, who, address, secure, setCookie }) => {
      await app.login.logout(signedIn(who), address);
      setCookie(sessionCookieClear(secure));
      return { ok: true as const };
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/auth/me',
    summary: 'Who I am: user, roles, groups, keyboard layout',
    access: 'authenticated',
    mfaEnrolment: true,
    kiosk: true,
    response: MeBody,
    handler: async ({ app, who }) => app.login.me(signedIn(who).name),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/auth/tokens',
    summary: 'Log in and get an API token (for `ardesia login`)',
    access: 'public',
    body: TokenBody,
    response: TokenLoginBody,
    handler: async ({ app, body, address }) => {
      const { user, password, label, code } = body;
      return app.login.tokenLogin(user, password, address, label, code);
    },
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/auth/tokens',
    summary: "My login tokens (administrators: ?user=NAME or ?all=true for others')",
    access: 'authenticated',
    query: TokenListQuery,
    response: listOf(TokenViewBody),
    handler: async ({ app, who, query }) => loginTokensList(app.users.db, signedIn(who), query),
  }),
  defineRoute({
    method: 'DELETE',
    url: '/v1/auth/tokens/:id',
    summary: 'Revoke a login token by its id (mine; administrators: anyone\'s); its open connections close',
    access: 'authenticated',
    params: TokenParams,
    response: TokenRevokedBody,
    handler: async ({ app, who, params, address }) => loginTokenRevoke(app.users.db, app.users.connections, signedIn(who), params.id, address),
  }),
];

const userAdminRoutes: ApiRoute[] = [
  defineRoute({ method: 'GET', url: '/v1/users', summary: 'List users', access: 'admin', response: listOf(UserViewBody),
    handler: async ({ app }) => app.users.list() }),
  defineRoute({
    method: 'POST',
    url: '/v1/users',
    summary: 'Create a user (a password is generated and returned once when none is given)',
    access: 'admin',
    body: UserCreateBody,
    status: 201,
    response: UserCreatedBody,
    handler: async (input) => input.app.users.create(input.body, actorOf(input)),
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/users/:user',
    summary: 'One user (administrators, or the user themself)',
    access: 'authenticated',
    params: UserParams,
    response: UserViewBody,
    handler: async ({ app, who, params }) => {
      adminOrSelf(who, params.user, 'see the account');
      return app.users.show(params.user);
    },
  }),
  defineRoute({
    method: 'PATCH',
    url: '/v1/users/:user',
    summary: "Change a user's roles, groups, state or profile (a user may change only their own keyboard layout)",
    access: 'authenticated',
    params: UserParams,
    body: UserPatchBody,
    response: UserViewBody,
    handler: async (input) => {
      const me = adminOrSelf(input.who, input.params.user, 'change the account');
      const patch = input.body;
      const beyondLayout = Object.keys(patch).filter((k) => k !== 'keyboardLayout');
      if (!me.admin && beyondLayout.length) throw new ArdesiaError('FORBIDDEN', `only an administrator may change ${beyondLayout.join(', ')}`);
      return input.app.users.update(input.params.user, patch, actorOf(input));
    },
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/users/:user/password',
    summary: "Set a user's password (a user gives their current one; an administrator need not)",
    access: 'authenticated',
    params: UserParams,
    body: PasswordBody,
    response: OkBody,
    handler: async (input) => {
      const user = input.params.user;
      const me = adminOrSelf(input.who, user, 'set the password');
      const { current, password } = input.body;
      if (!me.admin) {
        if (current === undefined) throw new ArdesiaError('PASSWORD_CURRENT_WRONG', 'give your current password');
        await input.app.login.verify(user, current, input.address).catch((err: unknown) => {
          if (err instanceof ArdesiaError && err.code === 'LOGIN_FAILED') throw new ArdesiaError('PASSWORD_CURRENT_WRONG', 'the current password is wrong');
          throw err;
        });
      }
      await input.app.users.passwordSet(user, password, actorOf(input));
      // Whoever knew the old password is out: an administrator's reset ends every credential; a user's own change
      // ends all but the session or token making it.
      const keep = me.name === user ? { session: me.session, tokenId: me.tokenId } : {};
      await input.app.users.credentialsRevoke(user, 'the password was changed', keep);
      return { ok: true as const };
    },
  }),
  defineRoute({
    method: 'DELETE',
    url: '/v1/users/:user',
    summary: 'Delete a user (their sessions and login tokens end)',
    access: 'admin',
    params: UserParams,
    response: DeletedBody,
    handler: async (input) => input.app.users.delete(input.params.user, actorOf(input)),
  }),
];

const groupRoutes: ApiRoute[] = [
  defineRoute({ method: 'GET', url: '/v1/groups', summary: 'List groups with their members', access: 'admin', response: listOf(GroupViewBody),
    handler: async ({ app }) => app.users.groupList() }),
  defineRoute({
    method: 'POST',
    url: '/v1/groups',
    summary: 'Create a group',
    access: 'admin',
    body: GroupCreateBody,
    status: 201,
    response: GroupViewBody,
    handler: async (input) => input.app.users.groupCreate(input.body.name, actorOf(input)),
  }),
  defineRoute({
    method: 'DELETE',
    url: '/v1/groups/:group',
    summary: 'Delete a group (its members stay)',
    access: 'admin',
    params: GroupParams,
    response: DeletedBody,
    handler: async (input) => input.app.users.groupDelete(input.params.group, actorOf(input)),
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/audit',
    summary: 'The audit log, newest first: who did what, when, from where',
    access: 'admin',
    query: AuditQuery,
    response: listOf(AuditEntryBody),
    handler: async ({ app, query }) => auditQuery(app.users.db, query),
  }),
];

export const userRoutes: ApiRoute[] = [...authRoutes, ...userAdminRoutes, ...groupRoutes];
