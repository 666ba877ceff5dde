// `ardesia agent`: the agent of a host other than the controller's (it dials out; nothing listens here).
import type { Command } from 'commander';
import { ArdesiaError } from '../../contract/errors.js';
import { type GlobalOptions, resolveDataDir } from '../client.js';
import { HostStorage } from '../../contract/hosts.js';
import { duration, flag, oneOf } from '../options.js';

export function registerAgentCommand(program: Command): void {
  program
    .command('agent')
    .description("run this host's agent: join the controller once with a token from `ardesia host add NAME`, then keep a dial-out link (hello, heartbeats, reconnect)")
    .option('--controller <url>', "a controller's https://HOST:PORT, repeatable: with a standby, give each; the agent dials them in turn until one leads (default: the URL the token, or the saved join, names)", (v: string, all: string[] = []) => [...all, v])
    .option('--join <token>', 'the one-time join token (needed the first time only: the agent keeps its own credential in DATA_DIR/agent.json)')
    .addOption(flag('--probe-timeout <ms>', 'how long the KVM probe guest may take at start (or 5s)', duration({ bareUnit: 'ms', minMs: 100, maxMs: 600_000 }), '20000'))
    .addOption(flag('--fence-after <seconds>', 'with no controller for this long, stop every VM of this host by force (off unless given; as Proxmox\'s local agent does)', duration({ bareUnit: 's', minMs: 1_000, maxMs: 7 * 86_400_000 })))
    .addOption(flag('--storage <shared|local>', "shared: this host mounts the controller's data folder at the same path (images/, desktops/, homes/); local: it does not — image files are copied here over the link as its desktops need them, and only pools with scratch homes, non-persistent, run here", oneOf(HostStorage.options), 'shared'))
    .option('--log-level <level>', 'log level', 'info')
    .action(async (flags: { controller?: string[]; join?: string; probeTimeout: number; fenceAfter?: number; storage: HostStorage; logLevel: string }, cmd: Command) => {
      const g = cmd.optsWithGlobals<GlobalOptions>();
      const [{ default: pino }, { agentRun }] = await Promise.all([import('pino'), import('../../agent/remote/agent-run.js')]);
      const log = pino({ level: flags.logLevel, base: { svc: 'ardesia-agent' } });
      const stop = new AbortController();
      for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => stop.abort());
      try {
        await agentRun({ dataDir: resolveDataDir(g), controllers: flags.controller, joinToken: flags.join, probeTimeoutMs: flags.probeTimeout, ...(flags.fenceAfter !== undefined ? { fenceAfterMs: flags.fenceAfter } : {}), storage: flags.storage, log, signal: stop.signal });
      } catch (err) {
        // The code first: scripts and the tests tell a refusal from a network failure by it.
        if (err instanceof ArdesiaError) {
          process.stderr.write(`ardesia agent: ${err.code}: ${err.message}\n  ${err.hint}\n`);
          process.exit(2);
        }
        throw err;
      }
    });
}
