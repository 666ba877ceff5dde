// Two-factor sign-in (a user's own enrolment; an administrator's reset) and the site settings.
import { z } from 'zod';
import { ArdesiaError } from '../contract/errors.js';
import { MfaCodeBody, SiteSettingsPatchBody } from '../contract/users.js';
import { MfaEnrolmentBody, MfaRecoveryCodesBody, MfaStatusBody, SiteSettingsBody } from './responses-mfa.js';
import { type ApiRoute, defineRoute, type Principal, type RouteInput } from './route.js';

const UserParams = z.object({ user: z.string() });

const actorOf = (input: Pick<RouteInput, 'who' | 'address'>) => ({ principal: input.who?.name ?? 'anonymous', address: input.address });

/** Only a web user has a second factor (the root token and unix accounts' token files have no password login). */
function webUser(who: Principal | undefined): Principal {
  if (!who) throw new ArdesiaError('UNAUTHENTICATED', 'log in first');
  if (who.kind !== 'user') throw new ArdesiaError('FORBIDDEN', 'two-factor sign-in is for web users; this token has no password login');
  return who;
}

export const mfaRoutes: ApiRoute[] = [
  defineRoute({
    method: 'GET',
    url: '/v1/auth/mfa',
    summary: 'My two-factor sign-in: on or not, set-up pending, recovery codes left',
    access: 'authenticated',
    mfaEnrolment: true,
    response: MfaStatusBody,
    handler: async ({ app, who }) => app.login.mfa.status(webUser(who).name),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/auth/mfa/enrol',
    summary: 'Start setting up two-factor sign-in: a new secret, its otpauth URI and QR code (confirm with a code to turn it on)',
    access: 'authenticated',
    mfaEnrolment: true,
    response: MfaEnrolmentBody,
    handler: async (input) => input.app.login.mfa.enrolStart(webUser(input.who).name, actorOf(input)),
  }),
  defineRoute({
    method: 'POST',
    url: '/v1/auth/mfa/confirm',
    summary: 'Turn two-factor sign-in on with a code of the new secret; returns the recovery codes, shown this once',
    access: 'authenticated',
    mfaEnrolment: true,
    body: MfaCodeBody,
    response: MfaRecoveryCodesBody,
    handler: async (input) => input.app.login.mfa.enrolConfirm(webUser(input.who).name, input.body.code, actorOf(input)),
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/users/:user/mfa',
    summary: "Show a user's two-factor sign-in state",
    access: 'admin',
    params: UserParams,
    response: MfaStatusBody,
    handler: async ({ app, params }) => app.login.mfa.status(params.user),
  }),
  defineRoute({
    method: 'DELETE',
    url: '/v1/users/:user/mfa',
    summary: "Reset a user's two-factor sign-in (a lost phone): off, recovery codes dropped; they may set it up again",
    access: 'admin',
    params: UserParams,
    response: MfaStatusBody,
    handler: async (input) => input.app.login.mfa.reset(input.params.user, actorOf(input)),
  }),
  defineRoute({
    method: 'GET',
    url: '/v1/settings',
    summary: 'Show the site settings',
    access: 'admin',
    response: SiteSettingsBody,
    handler: async ({ app }) => app.login.mfa.siteSettings(),
  }),
  defineRoute({
    method: 'PATCH',
    url: '/v1/settings',
    summary: 'Change the site settings (adminsMustUseMfa: administrators must use two-factor sign-in)',
    access: 'admin',
    body: SiteSettingsPatchBody,
    response: SiteSettingsBody,
    handler: async (input) => input.app.login.mfa.siteSettingsSet(input.body, actorOf(input)),
  }),
];
