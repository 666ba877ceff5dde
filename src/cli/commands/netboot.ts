// `ardesia netboot serve --config FILE`: the boot server on its own (DHCP, TFTP, HTTP boot chain); `netboot show|set|
// clear`: the daemon's netboot configuration through the API.
import type { Command } from 'commander';
import type { NetbootStatus } from '../../contract/netboot.js';
import { type GlobalOptions, resolveDataDir } from '../client.js';
import { flag, listenAddress, LOG_LEVELS, oneOf } from '../options.js';
import { output } from '../output.js';
import { settingsFileRead } from '../settings-file.js';
import { client, wantsJson } from './image.js';

/** A netboot configuration file (YAML/JSON, docs/netboot.md); the daemon checks it. */
const configRead = (file: string) => settingsFileRead(file, 'NETBOOT_CONFIG_INVALID');

function statusText(s: NetbootStatus): string {
  const from = s.source === 'serve' ? `from the daemon's --netboot ${s.file}` : s.source === 'api' ? 'set with `ardesia netboot set` (or the site file)' : 'none: netboot is off (`ardesia netboot set FILE` turns it on)';
  const ifaces = (s.config?.interfaces ?? []) as Array<{ address: string; mode: string }>;
  return [
    `netboot: ${from}`,
    ...(s.config ? [`  ${s.running ? 'running' : 'NOT running'} on ${ifaces.map((i) => `${i.address} (${i.mode})`).join(', ')}`] : []),
    ...(s.error ? [`  error: ${s.error}`] : []),
  ].join('\n');
}

export function registerNetbootCommands(program: Command): void {
  const netboot = program.command('netboot').description('network boot of thin clients (DHCP, TFTP, iPXE over HTTP)');
  netboot
    .command('serve')
    .description('run DHCP (full or proxy), TFTP and the HTTP boot chain without the rest of the daemon')
    .requiredOption('--config <file>', 'netboot configuration (YAML/JSON; see docs/netboot.md)')
    .option('--listen <addr:port>', 'HTTP boot listener (default 0.0.0.0 and the port of the first interface, else 8080)', listenAddress)
    .addOption(flag('--log-level <level>', LOG_LEVELS.join(', '), oneOf(LOG_LEVELS), 'info'))
    .action(async (flags: { config: string; listen?: string; logLevel: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      // Loaded on demand, like the daemon: other commands need not pay for fastify and the store.
      const { runStandaloneNetboot } = await import('../../netboot/standalone.js');
      const server = await runStandaloneNetboot({ dataDir: resolveDataDir(g), configPath: flags.config, listen: flags.listen, logLevel: flags.logLevel });
      const stop = () => void server.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
  netboot
    .command('show')
    .description("the daemon's netboot configuration: where it comes from, whether it runs")
    .action(async (_f: unknown, cmd: Command) => {
      const s = await client(cmd).request<NetbootStatus>('GET', '/v1/netboot');
      output(wantsJson(cmd), wantsJson(cmd) ? s : statusText(s));
    });
  netboot
    .command('set')
    .description("set the daemon's netboot from FILE (YAML/JSON, docs/netboot.md): its servers restart with it, or the previous ones stay (refused when serve --netboot sets it)")
    .argument('<file>')
    .action(async (file: string, _f: unknown, cmd: Command) => {
      const s = await client(cmd).request<NetbootStatus>('PUT', '/v1/netboot', await configRead(file));
      output(wantsJson(cmd), wantsJson(cmd) ? s : statusText(s));
    });
  netboot
    .command('clear')
    .description("stop the daemon's netboot and forget its configuration")
    .action(async (_f: unknown, cmd: Command) => {
      const s = await client(cmd).request<NetbootStatus>('DELETE', '/v1/netboot');
      output(wantsJson(cmd), wantsJson(cmd) ? s : statusText(s));
    });
}
