// `ardesia login|logout`, `ardesia user …`, `ardesia group …`, `ardesia audit`: accounts and the audit log, over the API.
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { ArdesiaError } from '../../contract/errors.js';
import type { AuditEntry, GroupView, Me, TokenView, UserView } from '../../contract/users.js';
import { ApiClient, type GlobalOptions, loginTokenPath, resolveEndpoint, savedLoginWrite } from '../client.js';
import { flag, positiveInt } from '../options.js';
import { output, table } from '../output.js';
import { client, enc, wantsJson } from './image.js';
import { registerMfaCommands, registerSettingsCommands, tokenLoginWithCode } from './mfa.js';

let stdinLines: string[] | undefined;

/** Asks without echo on a terminal; otherwise takes the next line of stdin (for scripts and tests). */
export async function askSecret(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    stdinLines ??= readFileSync(0, 'utf8').split('\n');
    const line = stdinLines.shift();
    if (line === undefined || line === '') throw new ArdesiaError('BAD_REQUEST', `${prompt.replace(/: $/, '')}: nothing on stdin`);
    return line.replace(/\r$/, '');
  }
  process.stderr.write(prompt);
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let typed = '';
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(typed);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new ArdesiaError('BAD_REQUEST', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    stdin.on('data', onData);
  });
}

const list = (text: string | undefined): string[] | undefined => (text === undefined ? undefined : text.split(',').map((s) => s.trim()).filter(Boolean));
const yesNo = (b: boolean) => (b ? 'yes' : 'no');

function userText(u: UserView): string {
  return [
    `user ${u.name}${u.fullName ? ` (${u.fullName})` : ''}${u.disabled ? ' — DISABLED' : ''}`,
    `  roles:    ${u.roles.join(', ')}`,
    `  groups:   ${u.groups.join(', ') || '-'}`,
    `  keyboard: ${u.keyboardLayout}`,
    `  created:  ${u.createdAt}`,
    `  last login: ${u.lastLoginAt ?? 'never'}`,
    ...(u.directory ? [`  directory: ${u.directory.source} (login ${u.directory.login ?? u.name})`] : []),
    `  two-factor: ${u.mfaEnabled ? 'on' : 'off'}`,
    ...(u.kiosk ? ['  kiosk account: no password; opened by the thin clients that name it'] : []),
  ].join('\n');
}

function registerLogin(program: Command): void {
  program
    .command('login')
    .description('log in as a user and keep an API token in ~/.config/ardesia/token (used when no other token applies)')
    .option('--user <name>', 'the user (default: your login name)')
    .option('--label <text>', 'a label for the token (shown in the audit log)')
    .option('--code <code>', 'the two-factor code (or a recovery code) of an account that uses two-factor sign-in; asked for when needed')
    .action(async (flags: { user?: string; label?: string; code?: string }, cmd: Command) => {
      const user = flags.user ?? userInfo().username;
      const endpoint = { ...resolveEndpoint(cmd.optsWithGlobals<GlobalOptions>()), token: undefined };
      const password = await askSecret(`Password for ${user}: `);
      const r = await tokenLoginWithCode(new ApiClient(endpoint), { user, password, label: flags.label }, flags.code);
      const path = loginTokenPath();
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      writeFileSync(path, `${r.token}\n`, { mode: 0o600 });
      chmodSync(path, 0o600);
      // The server and how it was verified, so later commands to that URL check the same certificate.
      if (endpoint.url) savedLoginWrite({ url: endpoint.url, fingerprint: endpoint.trust?.fingerprint, ca: endpoint.trust?.caPath ? resolve(endpoint.trust.caPath) : undefined });
      output(wantsJson(cmd), wantsJson(cmd) ? { user: r.user, tokenFile: path } : `ardesia: logged in as ${r.user} (token in ${path})`);
    });

  program
    .command('logout')
    .description('revoke the token of `ardesia login` and forget it')
    .action(async (_f: unknown, cmd: Command) => {
      const path = loginTokenPath();
      let token: string;
      try {
        token = readFileSync(path, 'utf8').trim();
      } catch {
        return output(wantsJson(cmd), wantsJson(cmd) ? { ok: true, loggedIn: false } : 'ardesia: not logged in');
      }
      const endpoint = { ...resolveEndpoint(cmd.optsWithGlobals<GlobalOptions>()), token };
      // A token the daemon no longer knows is as good as revoked: forget it all the same.
      await new ApiClient(endpoint).request('POST', '/v1/auth/logout').catch((err: unknown) => {
        if (!(err instanceof ArdesiaError && err.code === 'UNAUTHENTICATED')) throw err;
      });
      rmSync(path, { force: true });
      output(wantsJson(cmd), wantsJson(cmd) ? { ok: true, loggedIn: false } : 'ardesia: logged out');
    });
}

function registerUser(program: Command): void {
  const user = program.command('user').description('local user accounts (roles admin and user)');
  registerMfaCommands(user);

  user.command('list').action(async (_f: unknown, cmd: Command) => {
    const users = await client(cmd).request<UserView[]>('GET', '/v1/users');
    if (wantsJson(cmd)) return output(true, users);
    const rows = users.map((u) => [u.name, u.roles.join(','), u.groups.join(',') || '-', yesNo(u.disabled), u.lastLoginAt ?? 'never']);
    console.log(table(['NAME', 'ROLES', 'GROUPS', 'DISABLED', 'LAST LOGIN'], rows));
  });

  user
    .command('add')
    .description('create a user; without --password-stdin a password is generated and printed once')
    .argument('<name>')
    .option('--admin', 'give the admin role')
    .option('--groups <a,b>', 'member of these groups')
    .option('--full-name <text>')
    .option('--keyboard <layout>', 'keyboard layout, e.g. de')
    .option('--password-stdin', 'read the password from stdin (or ask for it on a terminal)')
    .option('--kiosk', 'a kiosk account: no password, never an administrator, opened by the thin clients that name it (--kiosk-user)')
    .action(async (name: string, f: { admin?: boolean; groups?: string; fullName?: string; keyboard?: string; passwordStdin?: boolean; kiosk?: boolean }, cmd: Command) => {
      const password = f.passwordStdin ? await askSecret(`Password for ${name}: `) : undefined;
      const body = { name, password, roles: f.admin ? ['admin'] : undefined, groups: list(f.groups), fullName: f.fullName, keyboardLayout: f.keyboard, kiosk: f.kiosk };
      const u = await client(cmd).request<UserView & { password?: string }>('POST', '/v1/users', body);
      if (wantsJson(cmd)) return output(true, u);
      console.log(`ardesia: user ${u.name} created (roles: ${u.roles.join(', ')})`);
      if (u.password) console.log(`password: ${u.password}\n(shown once: hand it to the user, who can change it with \`ardesia user passwd\`)`);
    });

  user
    .command('show')
    .argument('[name]', 'default: yourself')
    .action(async (name: string | undefined, _f: unknown, cmd: Command) => {
      const api = client(cmd);
      const who = name ?? (await api.request<Me>('GET', '/v1/auth/me')).user;
      const u = await api.request<UserView>('GET', `/v1/users/${enc(who)}`);
      output(wantsJson(cmd), wantsJson(cmd) ? u : userText(u));
    });

  user
    .command('set')
    .description("change a user's roles, groups, state or profile")
    .argument('<name>')
    .option('--admin', 'give the admin role')
    .option('--no-admin', 'take the admin role away')
    .option('--groups <a,b>', 'set the groups (empty string: none)')
    .option('--disable', 'disable: no login; sessions and tokens end at once')
    .option('--enable', 'enable again')
    .option('--full-name <text>')
    .option('--keyboard <layout>')
    .action(async (name: string, f: { admin?: boolean; groups?: string; disable?: boolean; enable?: boolean; fullName?: string; keyboard?: string }, cmd: Command) => {
      if (f.disable && f.enable) throw new ArdesiaError('BAD_REQUEST', '--disable and --enable contradict each other');
      const body = {
        roles: f.admin === undefined ? undefined : f.admin ? ['admin'] : ['user'],
        groups: list(f.groups),
        disabled: f.disable ? true : f.enable ? false : undefined,
        fullName: f.fullName,
        keyboardLayout: f.keyboard,
      };
      const u = await client(cmd).request<UserView>('PATCH', `/v1/users/${enc(name)}`, body);
      output(wantsJson(cmd), wantsJson(cmd) ? u : userText(u));
    });

  user
    .command('passwd')
    .description('set a password: your own (asks the current one) or, as an administrator, anyone’s')
    .argument('[name]', 'default: yourself')
    .action(async (name: string | undefined, _f: unknown, cmd: Command) => {
      const api = client(cmd);
      const me = await api.request<Me>('GET', '/v1/auth/me');
      const target = name ?? me.user;
      const current = me.admin ? undefined : await askSecret('Current password: ');
      const password = await askSecret(`New password for ${target}: `);
      await api.request('POST', `/v1/users/${enc(target)}/password`, { current, password });
      output(wantsJson(cmd), wantsJson(cmd) ? { ok: true } : `ardesia: password of ${target} changed`);
    });

  user
    .command('delete')
    .argument('<name>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const r = await client(cmd).request<{ deleted: string }>('DELETE', `/v1/users/${enc(name)}`);
      output(wantsJson(cmd), wantsJson(cmd) ? r : `ardesia: user ${name} deleted`);
    });
}

function registerGroupAndAudit(program: Command): void {
  const group = program.command('group').description('groups of users (pools are entitled to groups)');
  group.command('list').action(async (_f: unknown, cmd: Command) => {
    const groups = await client(cmd).request<GroupView[]>('GET', '/v1/groups');
    output(wantsJson(cmd), wantsJson(cmd) ? groups : table(['NAME', 'MEMBERS'], groups.map((g) => [g.name, g.members.join(',') || '-'])));
  });
  group
    .command('add')
    .argument('<name>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const g = await client(cmd).request<GroupView>('POST', '/v1/groups', { name });
      output(wantsJson(cmd), wantsJson(cmd) ? g : `ardesia: group ${name} created`);
    });
  group
    .command('delete')
    .argument('<name>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const r = await client(cmd).request<{ deleted: string }>('DELETE', `/v1/groups/${enc(name)}`);
      output(wantsJson(cmd), wantsJson(cmd) ? r : `ardesia: group ${name} deleted`);
    });

  program
    .command('audit')
    .description('the audit log, newest first: who did what, when, from where')
    .addOption(flag('--limit <n>', 'entries to show', positiveInt(10_000), '50'))
    .option('--action <name>', 'only this action, e.g. user.create')
    .option('--principal <name>', 'only changes by this principal')
    .action(async (f: { limit: number; action?: string; principal?: string }, cmd: Command) => {
      const q = new URLSearchParams({ limit: String(f.limit) });
      if (f.action) q.set('action', f.action);
      if (f.principal) q.set('principal', f.principal);
      const entries = await client(cmd).request<AuditEntry[]>('GET', `/v1/audit?${q.toString()}`);
      if (wantsJson(cmd)) return output(true, entries);
      const rows = entries.map((e) => [e.at, e.principal, e.address ?? '-', e.action, e.target, e.detail === null ? '' : JSON.stringify(e.detail)]);
      console.log(table(['WHEN', 'WHO', 'FROM', 'ACTION', 'TARGET', 'DETAIL'], rows));
    });
}

export function registerUserCommands(program: Command): void {
  registerLogin(program);
  registerUser(program);
  registerGroupAndAudit(program);
  registerTokenCommands(program);
  registerSettingsCommands(program);
}

/** `ardesia token list|revoke`: login tokens (`ardesia login`), which also end by themselves (serve --token-ttl). */
export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('login tokens: list and revoke (they also expire: serve --token-ttl)');
  token
    .command('list')
    .description('your login tokens (administrators: --user NAME or --all)')
    .option('--user <name>', "another user's tokens (administrators)")
    .option('--all', "every user's tokens (administrators)")
    .action(async (f: { user?: string; all?: boolean }, cmd: Command) => {
      const q = new URLSearchParams();
      if (f.user) q.set('user', f.user);
      if (f.all) q.set('all', 'true');
      const tokens = await client(cmd).request<TokenView[]>('GET', `/v1/auth/tokens${q.size ? `?${q.toString()}` : ''}`);
      if (wantsJson(cmd)) return output(true, tokens);
      const rows = tokens.map((t) => [String(t.id), t.user, t.label ?? '-', t.createdAt, t.expiresAt ?? 'never', t.current ? 'yes' : '']);
      console.log(table(['ID', 'USER', 'LABEL', 'CREATED', 'EXPIRES', 'THIS'], rows));
    });
  token
    .command('revoke')
    .description('revoke a login token by its id; connections opened with it close')
    .argument('<id>', 'the id from `ardesia token list`', positiveInt(Number.MAX_SAFE_INTEGER))
    .action(async (id: number, _f: unknown, cmd: Command) => {
      const r = await client(cmd).request<{ revoked: number }>('DELETE', `/v1/auth/tokens/${id}`);
      output(wantsJson(cmd), wantsJson(cmd) ? r : `ardesia: token ${id} revoked`);
    });
}
