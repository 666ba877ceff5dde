// `ardesia directory …`: directory sources (OpenLDAP, Active Directory): state, what a login would find, sync now.
import type { Command } from 'commander';
import type { DirectoryConnectionResult, DirectorySourceView, DirectorySyncResult, DirectoryTestResult } from '../../contract/directory.js';
import { output, table } from '../output.js';
import { settingsFileRead } from '../settings-file.js';
import { client, wantsJson } from './image.js';

const dash = (v: string | number | boolean | null) => (v === null || v === '' ? '-' : String(v));

function describe(t: DirectoryTestResult): string {
  const rows: Array<[string, string]> = [
    ['source', t.source], ['dn', t.dn], ['stable id', t.stableId], ['login', t.login], ['display name', dash(t.displayName)],
    ['ardesia user', `${dash(t.ardesiaUser)}${t.existing ? '' : ' (made at the first login)'}`], ['admin', t.admin ? 'yes' : 'no'],
    ['groups', t.groups.join(', ') || '-'], ['refused', dash(t.refusal)],
  ];
  const lines = rows.map(([k, v]) => `${`${k}:`.padEnd(15)}${v}`);
  return [...lines, 'directory groups:', ...t.directoryGroups.map((g) => `  ${g}`)].join('\n');
}

/** One source's settings from a YAML or JSON file (an entry of the --directory file's `sources`); the daemon checks them. */
const settingsRead = (file: string) => settingsFileRead(file, 'DIRECTORY_SOURCE_INVALID');

export function registerDirectoryCommands(program: Command): void {
  const dir = program.command('directory').description('directory sources (the console\'s and serve --directory\'s): OpenLDAP and Active Directory logins');

  dir.command('add')
    .description("make a source from FILE (YAML/JSON: one entry of the --directory file's sources; bind password a file:/env: reference or the password, then kept in the store)")
    .argument('<file>')
    .action(async (file: string, _f: unknown, cmd: Command) => {
      const s = await client(cmd).request<DirectorySourceView>('POST', '/v1/directory/sources', await settingsRead(file));
      output(wantsJson(cmd), wantsJson(cmd) ? s : `directory source ${s.name} made: ${s.reachable ? 'reachable' : `unreachable (${dash(s.lastSyncError)})`}`);
    });

  dir.command('set')
    .description('replace the settings of the console source NAME from FILE (no bind password in FILE = keep the stored one)')
    .argument('<name>')
    .argument('<file>')
    .action(async (name: string, file: string, _f: unknown, cmd: Command) => {
      const s = await client(cmd).request<DirectorySourceView>('PUT', `/v1/directory/sources/${encodeURIComponent(name)}`, await settingsRead(file));
      output(wantsJson(cmd), wantsJson(cmd) ? s : `directory source ${s.name} saved: ${s.reachable ? 'reachable' : `unreachable (${dash(s.lastSyncError)})`}`);
    });

  dir.command('remove')
    .description('delete the console source NAME: its users stay but can no longer log in through it; their sessions end')
    .argument('<name>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const r = await client(cmd).request<{ deleted: string; ended: string[] }>('DELETE', `/v1/directory/sources/${encodeURIComponent(name)}`);
      output(wantsJson(cmd), wantsJson(cmd) ? r : `directory source ${r.deleted} deleted; sessions ended: ${r.ended.join(', ') || 'none'}`);
    });

  dir.command('try')
    .description('test connection: bind and search with the settings in FILE, saving nothing')
    .argument('<file>')
    .action(async (file: string, _f: unknown, cmd: Command) => {
      const r = await client(cmd).request<DirectoryConnectionResult>('POST', '/v1/directory/connection-test', await settingsRead(file));
      output(wantsJson(cmd), wantsJson(cmd) ? r : r.ok ? `connection works: ${r.message}` : `connection failed (${dash(r.problem)}, ${dash(r.code)}): ${r.message}\n${dash(r.hint)}`);
      if (!r.ok) process.exitCode = 1;
    });

  dir.command('status')
    .description('each source: reachable, last sync, users found')
    .action(async (_f: unknown, cmd: Command) => {
      const all = await client(cmd).request<DirectorySourceView[]>('GET', '/v1/directory/sources');
      if (wantsJson(cmd)) return output(true, all);
      if (all.length === 0) return console.log('no directory source: add one with `ardesia directory add FILE`, in the console (Directory sources), or start the daemon with `serve --directory FILE`');
      console.log(table(['NAME', 'KIND', 'TLS', 'REACHABLE', 'LAST SYNC', 'USERS FOUND', 'ARDESIA USERS', 'ERROR'],
        all.map((s) => [s.name, s.kind, s.tls, dash(s.reachable), dash(s.lastSyncAt), dash(s.usersFound), String(s.ardesiaUsers), dash(s.lastSyncError)])));
    });

  dir.command('test')
    .description('what a login of USER would find (entry, groups, mapped entitlements), without a password')
    .argument('<user>', 'as the user types it: jdoe, jdoe@REALM or REALM\\jdoe')
    .action(async (user: string, _f: unknown, cmd: Command) => {
      const t = await client(cmd).request<DirectoryTestResult>('POST', '/v1/directory/test', { user });
      output(wantsJson(cmd), wantsJson(cmd) ? t : describe(t));
    });

  dir.command('sync')
    .description('sync now: groups and roles updated, sessions of removed or disabled users ended')
    .action(async (_f: unknown, cmd: Command) => {
      const all = await client(cmd).request<DirectorySyncResult[]>('POST', '/v1/directory/sync', {});
      if (wantsJson(cmd)) return output(true, all);
      console.log(table(['SOURCE', 'OK', 'CHECKED', 'UPDATED', 'ENDED', 'ERROR'],
        all.map((r) => [r.source, r.ok ? 'yes' : 'no', String(r.checked), String(r.updated), r.ended.join(',') || '-', dash(r.error)])));
      if (all.some((r) => !r.ok)) process.exitCode = 1;
    });
}
