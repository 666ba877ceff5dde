// `ardesia netboot serve --config FILE`: the boot server on its own (DHCP, TFTP, HTTP boot chain).
import type { Command } from 'commander';
import { type GlobalOptions, resolveDataDir } from '../client.js';
import { flag, listenAddress, LOG_LEVELS, oneOf } from '../options.js';

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
}
