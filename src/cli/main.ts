// The `ardesia` command line. Every command but `serve` and `host check` talks to the daemon's API.
import { Command, CommanderError } from 'commander';
import { ArdesiaError } from '../contract/errors.js';
import { registerHostCommands } from './commands/host.js';
import { registerServeCommand } from './commands/serve.js';
import { registerVmCommands } from './commands/vm.js';
import { registerImageCommands } from './commands/image.js';
import { registerHomeCommands } from './commands/home.js';
import { registerDesktopCommands } from './commands/desktop.js';
import { registerPoolCommands } from './commands/pool.js';
import { registerUserCommands } from './commands/user.js';
import { registerNetbootCommands } from './commands/netboot.js';
import { registerThinClientCommands } from './commands/thinclient.js';
import { registerTlsCommands } from './commands/tls.js';
import { registerBackupCommands } from './commands/backup.js';
import { registerDirectoryCommands } from './commands/directory.js';
import { registerSiteCommands } from './commands/site.js';
import { registerReportCommands } from './commands/report.js';
import { registerAgentCommand } from './commands/agent.js';

const program = new Command('ardesia')
  .description('Ardesia: VMs on QEMU/KVM (vmctl verbs) and virtual desktops')
  .option('--data-dir <dir>', 'data folder (env ARDESIA_DATA_DIR; default /var/lib/ardesia)')
  .option('--run-dir <dir>', "this host's own folder when controllers share the data folder: the daemon's socket, lock, VM runtime and logs (env ARDESIA_RUN_DIR; default DATA_DIR)")
  .option('--socket <path>', "the daemon's unix socket (default RUN_DIR/ardesia.sock)")
  .option('--url <url>', 'a remote daemon, e.g. https://10.0.0.5:8080 (token from `ardesia login`, or ARDESIA_TOKEN)')
  .option('--fingerprint <sha256>', "trust an https --url only if its certificate has this SHA-256 fingerprint (printed by the daemon at start; `ardesia login` keeps it)")
  .option('--ca <file>', 'trust an https --url whose certificate this CA signed (e.g. the server\'s DATA_DIR/tls/ca.crt)')
  .option('--json', 'machine-readable output')
  .exitOverride()
  .showHelpAfterError();

registerServeCommand(program);
registerAgentCommand(program);
registerVmCommands(program);
registerHostCommands(program);
registerImageCommands(program);
registerHomeCommands(program);
registerDesktopCommands(program);
registerPoolCommands(program);
registerUserCommands(program);
registerNetbootCommands(program);
registerThinClientCommands(program);
registerTlsCommands(program);
registerBackupCommands(program);
registerDirectoryCommands(program);
registerSiteCommands(program);
registerReportCommands(program);

function fail(err: unknown): never {
  const json = program.opts().json === true;
  if (err instanceof ArdesiaError) {
    if (json) process.stdout.write(`${JSON.stringify(err.toBody(), null, 2)}\n`);
    else process.stderr.write(`ardesia: ${err.message}\n  ${err.hint}\n`);
  } else {
    process.stderr.write(`ardesia: ${(err as Error).message ?? String(err)}\n`);
  }
  process.exit(1);
}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  fail(err);
}
