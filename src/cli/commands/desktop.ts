// `ardesia desktop …`: desktops as linked clones of an image version.
import type { Command } from 'commander';
import type { DesktopInfo } from '../../contract/images.js';
import { poolNetworkText } from '../../contract/network.js';
import { networkFromFlags } from '../network-flags.js';
import { output, table } from '../output.js';
import { duration, flag, versionOrLatest } from '../options.js';
import { client, diskSize, enc, wantsJson } from './image.js';

const line = (d: DesktopInfo) => [d.name, d.state, d.image, `${d.version}${d.followsLatest ? ' (latest)' : ''}`, d.home ?? '-'];

export function registerDesktopCommands(program: Command): void {
  const desktop = program.command('desktop').description('desktops: VMs on linked clones of a gold image');

  desktop
    .command('create')
    .description('create a desktop from an image version (not started)')
    .argument('<name>')
    .requiredOption('--image <image>', 'the gold image')
    .addOption(flag('--version <n|latest>', 'the version, or latest (follows the current version at each reset)', versionOrLatest, 'latest'))
    .option('--home <user>', "attach this user's home volume (created on first need)")
    .addOption(flag('--home-size <size>', 'size of a new home volume', diskSize, '1G'))
    .option('--network <none|nat|bridge:BR>', 'the desktop\'s network card: none (the default), QEMU NAT, or a tap on Linux bridge BR (stable MAC, locked)')
    .option('--nat-allow <host:port,…>', 'restricted NAT: the guest reaches only these TCP destinations, at their own address (empty: nothing)')
    .option('--nat-host-access', 'unrestricted NAT that may also reach this host\'s own addresses (10.0.2.2 = its loopback); refused by default')
    .action(async (name: string, flags: { image: string; version: number | 'latest'; home?: string; homeSize: number; network?: string; natAllow?: string; natHostAccess?: boolean }, cmd: Command) => {
      const body = {
        name,
        image: flags.image,
        version: flags.version,
        ...(flags.home ? { home: flags.home, homeSizeBytes: flags.homeSize } : {}),
        ...(flags.network !== undefined || flags.natAllow !== undefined || flags.natHostAccess ? { network: networkFromFlags(flags) } : {}),
      };
      const d = await client(cmd).request<DesktopInfo>('POST', '/v1/desktops', body);
      output(wantsJson(cmd), wantsJson(cmd) ? d : `ardesia: desktop ${name} created on image ${d.image} version ${d.version}; start it with ardesia desktop start ${name}`);
    });

  for (const [verb, desc] of [
    ['start', 'start a desktop'],
    ['reset', 'reset a desktop to a fresh clone of its version: every system change is gone (the home volume stays)'],
  ] as const) {
    desktop
      .command(verb)
      .description(desc)
      .argument('<name>')
      .action(async (name: string, _f: unknown, cmd: Command) => {
        const d = await client(cmd).request<DesktopInfo>('POST', `/v1/desktops/${enc(name)}/${verb}`);
        output(wantsJson(cmd), wantsJson(cmd) ? d : `ardesia: desktop ${name} ${verb === 'start' ? 'started' : 'reset'} (image ${d.image} version ${d.version}, ${d.state})`);
      });
  }

  desktop
    .command('stop')
    .description('stop a desktop (power button; -f pulls the plug)')
    .argument('<name>')
    .option('-f, --force', 'stop at once')
    .addOption(flag('--timeout <seconds>', 'how long the guest may take (or 5m)', duration({ bareUnit: 's', minMs: 0, maxMs: 3_600_000 }), '60'))
    .action(async (name: string, flags: { force?: boolean; timeout: number }, cmd: Command) => {
      const d = await client(cmd).request<DesktopInfo>('POST', `/v1/desktops/${enc(name)}/stop`, { force: !!flags.force, waitMs: flags.timeout });
      output(wantsJson(cmd), wantsJson(cmd) ? d : `ardesia: desktop ${name} stopped`);
    });

  desktop
    .command('destroy')
    .description('destroy a desktop and its system disk (the home volume stays)')
    .argument('<name>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const r = await client(cmd).request<{ destroyed: string }>('DELETE', `/v1/desktops/${enc(name)}`);
      output(wantsJson(cmd), wantsJson(cmd) ? r : `ardesia: destroyed desktop ${name}`);
    });

  desktop
    .command('list')
    .action(async (_f: unknown, cmd: Command) => {
      const ds = await client(cmd).requestAll<DesktopInfo>('/v1/desktops');
      output(wantsJson(cmd), wantsJson(cmd) ? ds : table(['NAME', 'STATE', 'IMAGE', 'VERSION', 'HOME'], ds.map(line)));
    });

  desktop
    .command('show')
    .argument('<name>')
    .action(async (name: string, _f: unknown, cmd: Command) => {
      const d = await client(cmd).request<DesktopInfo>('GET', `/v1/desktops/${enc(name)}`);
      output(wantsJson(cmd), wantsJson(cmd) ? d : `desktop ${d.name}: ${d.state}, image ${d.image} version ${d.version}${d.followsLatest ? ' (follows latest)' : ''}, home ${d.home ?? 'none'}, network ${poolNetworkText(d.network)}, system disk ${d.systemDisk}`);
    });
}
