// `ardesia login`'s second factor, `ardesia user mfa show|reset NAME`, `ardesia settings show|set`.
import type { Command } from 'commander';
import { ArdesiaError } from '../../contract/errors.js';
import type { MfaStatus, SiteSettings } from '../../contract/users.js';
import type { ApiClient } from '../client.js';
import { output } from '../output.js';
import { client, enc, wantsJson } from './image.js';
import { askSecret } from './user.js';

/** POST /v1/auth/tokens; when the account uses two-factor and no --code was given, asks for the code and tries once more. */
export async function tokenLoginWithCode(
  api: ApiClient,
  body: { user: string; password: string; label?: string },
  code: string | undefined,
): Promise<{ token: string; user: string }> {
  try {
    return await api.request<{ token: string; user: string }>('POST', '/v1/auth/tokens', { ...body, code });
  } catch (err) {
    if (!(err instanceof ArdesiaError && err.code === 'MFA_CODE_REQUIRED' && code === undefined)) throw err;
    const asked = await askSecret(`Two-factor code for ${body.user} (or a recovery code): `);
    return api.request<{ token: string; user: string }>('POST', '/v1/auth/tokens', { ...body, code: asked });
  }
}

const statusText = (s: MfaStatus): string =>
  `user ${s.user}: two-factor sign-in ${s.enabled ? `on (${s.recoveryCodesLeft} recovery codes left)` : s.pending ? 'being set up (not on yet)' : 'off'}`;

const yesNoArg = (text: string): boolean => {
  if (text === 'yes' || text === 'true') return true;
  if (text === 'no' || text === 'false') return false;
  throw new ArdesiaError('BAD_REQUEST', `--admins-must-use-mfa takes yes or no, not ${text}`);
};

export function registerMfaCommands(user: Command): void {
  const mfa = user.command('mfa').description("a user's two-factor sign-in (they set it up in the portal)");
  mfa
    .command('show')
    .argument('<name>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const s = await client(cmd).request<MfaStatus>('GET', `/v1/users/${enc(name)}/mfa`);
      output(wantsJson(cmd), wantsJson(cmd) ? s : statusText(s));
    });
  mfa
    .command('reset')
    .description('turn it off (a lost phone) and drop the recovery codes; the user can set it up again')
    .argument('<name>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const s = await client(cmd).request<MfaStatus>('DELETE', `/v1/users/${enc(name)}/mfa`);
      output(wantsJson(cmd), wantsJson(cmd) ? s : `ardesia: two-factor sign-in of ${name} reset; ${statusText(s)}`);
    });
}

/** `ardesia settings show|set`: the site settings an administrator changes at run time. */
export function registerSettingsCommands(program: Command): void {
  const settings = program.command('settings').description('site settings (administrators)');
  const settingsText = (s: SiteSettings) => `administrators must use two-factor sign-in: ${s.adminsMustUseMfa ? 'yes' : 'no'}`;
  settings.command('show').action(async (_f: unknown, cmd: Command) => {
    const s = await client(cmd).request<SiteSettings>('GET', '/v1/settings');
    output(wantsJson(cmd), wantsJson(cmd) ? s : settingsText(s));
  });
  settings
    .command('set')
    .requiredOption('--admins-must-use-mfa <yes|no>', 'administrators must set up two-factor sign-in before anything else')
    .action(async (f: { adminsMustUseMfa: string }, cmd: Command) => {
      const s = await client(cmd).request<SiteSettings>('PATCH', '/v1/settings', { adminsMustUseMfa: yesNoArg(f.adminsMustUseMfa) });
      output(wantsJson(cmd), wantsJson(cmd) ? s : settingsText(s));
    });
}
