// A SPICE client run INSIDE a test's network namespace (`ip netns exec NS node spice-client.js …`), as remote-viewer
// would be on a user's PC: it reads a .vv file and prints one JSON value.
//   link VV [PASSWORD]  the main channel's link result over TLS, checked as the .vv says (0 ok, 7 permission denied)
//   flood VV N          N TLS connections at once: how many finished the handshake and were still open a second later
import { readFileSync } from 'node:fs';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { spiceLink } from './protocols.js';

/** The [virt-viewer] keys of a .vv (the CA's lines joined with a literal \n, as virt-viewer reads them). */
export function vvParse(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

async function flood(vv: Record<string, string>, n: number): Promise<{ open: number; refused: number }> {
  const ca = vv.ca!.replaceAll('\\n', '\n');
  const subject = (cert: PeerCertificate) => Object.entries(cert.subject).map(([k, v]) => `${k}=${String(v)}`).join(',');
  const sockets = await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<{ ok: boolean; socket: ReturnType<typeof tlsConnect> }>((resolve) => {
        const socket = tlsConnect({ host: vv.host!, port: Number(vv['tls-port']), ca, checkServerIdentity: (_h, cert) => (subject(cert) === vv['host-subject'] ? undefined : new Error('subject')) });
        socket.once('secureConnect', () => resolve({ ok: true, socket }));
        socket.once('error', () => resolve({ ok: false, socket }));
        socket.once('close', () => resolve({ ok: false, socket }));
      }),
    ),
  );
  await new Promise((r) => setTimeout(r, 1000));
  const open = sockets.filter((s) => s.ok && !s.socket.destroyed && !s.socket.readableEnded).length;
  for (const s of sockets) s.socket.destroy();
  return { open, refused: n - open };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [command, file, arg] = process.argv.slice(2);
  const vv = vvParse(readFileSync(file!, 'utf8'));
  const result =
    command === 'link'
      ? await spiceLink(vv.host!, Number(vv['tls-port']), arg ?? vv.password!, { ca: vv.ca!.replaceAll('\\n', '\n'), hostSubject: vv['host-subject']! })
      : await flood(vv, Number(arg));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
