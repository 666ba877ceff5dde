// `ardesia directory …`: directory sources (OpenLDAP, Active Directory): state, what a login would find, sync now.
import type { Command } from 'commander';
import type { DirectorySourceView, DirectorySyncResult, DirectoryTestResult } from '../../contract/directory.js';
import { output, table } from '../output.js';
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

export function registerDirectoryCommands(program: Command): void {
  const dir = program.command('directory').description('directory sources (serve --directory): OpenLDAP and Active Directory logins');

  dir.command('status')
    .description('each source: reachable, last sync, users found')
    .action(async (_f: unknown, cmd: Command) => {
      const all = await client(cmd).request<DirectorySourceView[]>('GET', '/v1/directory/sources');
      if (wantsJson(cmd)) return output(true, all);
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
