// `ardesia home …`: users' persistent home volumes.
import type { Command } from 'commander';
import type { HomeInfo } from '../../contract/images.js';
import { formatMiB } from '../../lib/size.js';
import { output, table } from '../output.js';
import { client, diskSize, enc, wantsJson } from './image.js';

const mib = (bytes: number) => formatMiB(Math.max(1, Math.round(bytes / 2 ** 20)));

export function registerHomeCommands(program: Command): void {
  const home = program.command('home').description("users' home volumes (persistent, never attached to two desktops)");

  home
    .command('list')
    .description('list home volumes and who holds them')
    .action(async (_f: unknown, cmd: Command) => {
      const homes = await client(cmd).request<HomeInfo[]>('GET', '/v1/homes');
      if (wantsJson(cmd)) return output(true, homes);
      console.log(table(['USER', 'SIZE', 'LEASED TO', 'SINCE'], homes.map((h) => [h.user, mib(h.sizeBytes), h.leasedTo ?? '-', h.leasedAt ?? ''])));
    });

  home
    .command('show')
    .argument('<user>')
    .action(async (user: string, _f: unknown, cmd: Command) => {
      const h = await client(cmd).request<HomeInfo>('GET', `/v1/homes/${enc(user)}`);
      const site = h.siteLease ? `; site lease (generation ${h.siteLease.generation}) ${h.siteLease.host ? `held by desktop ${h.siteLease.desktop} on host ${h.siteLease.host} (QEMU pid ${h.siteLease.pid}) since ${h.siteLease.acquiredAt}` : 'free'}` : '';
      output(wantsJson(cmd), wantsJson(cmd) ? h : `home of ${h.user}: ${mib(h.sizeBytes)} at ${h.path}; ${h.leasedTo ? `leased to desktop ${h.leasedTo} since ${h.leasedAt}` : 'not in use'}${site}`);
    });

  home
    .command('resize')
    .description('grow a home volume (it never shrinks)')
    .argument('<user>')
    .argument('<size>', 'the new size, e.g. 4G', diskSize)
    .action(async (user: string, size: number, _f: unknown, cmd: Command) => {
      const r = await client(cmd).request<HomeInfo & { from: number; to: number }>('POST', `/v1/homes/${enc(user)}/resize`, { sizeBytes: size });
      output(wantsJson(cmd), wantsJson(cmd) ? r : `ardesia: home of ${user} grown from ${mib(r.from)} to ${mib(r.to)}`);
    });

  home
    .command('delete')
    .description("delete a home volume and the user's files in it (needs --yes)")
    .argument('<user>')
    .option('--yes', 'yes, destroy the files')
    .action(async (user: string, flags: { yes?: boolean }, cmd: Command) => {
      const r = await client(cmd).request<{ deleted: string }>('DELETE', `/v1/homes/${enc(user)}?yes=${flags.yes ? 'true' : 'false'}`);
      output(wantsJson(cmd), wantsJson(cmd) ? r : `ardesia: deleted the home volume of ${user}`);
    });
}
