// `ardesia tls show`: the HTTPS certificate's fingerprint and Ardesia's CA, read from the daemon (run it on the
// server, over the unix socket: a fingerprint read over the network it is meant to protect proves nothing).
import type { Command } from 'commander';
import { ArdesiaError } from '../../contract/errors.js';
import { output } from '../output.js';
import { client, wantsJson } from './image.js';

interface TlsView {
  https: boolean;
  fingerprint?: string;
  subject?: string;
  caPem?: string;
}

export function registerTlsCommands(program: Command): void {
  const tls = program.command('tls').description("the daemon's HTTPS certificate");
  tls
    .command('show')
    .description('the SHA-256 fingerprint clients pin (`ardesia login --fingerprint`) and the CA they may trust instead (--ca-pem)')
    .option('--ca-pem', "print only Ardesia's CA certificate (PEM), to copy to clients as --ca FILE")
    .action(async (flags: { caPem?: boolean }, cmd: Command) => {
      const v = await client(cmd).request<TlsView>('GET', '/v1/tls');
      if (flags.caPem) {
        if (!v.caPem) {
          throw new ArdesiaError('TLS_CONFIG_INVALID', "this daemon serves no certificate of its own (plain HTTP, or the administrator's certificate): there is no Ardesia CA to print", undefined, "Give clients your own CA (the one that signed --tls-cert), or pin the fingerprint `ardesia tls show` prints.");
        }
        process.stdout.write(v.caPem);
        return;
      }
      if (wantsJson(cmd)) return output(true, v);
      output(false, v.https ? `HTTPS certificate: ${v.subject}\nSHA-256 fingerprint: ${v.fingerprint}` : 'the daemon serves no HTTPS (no --listen, or plain HTTP on loopback)');
    });
}
