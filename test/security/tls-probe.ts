// Clients the TLS attack tests run inside their network namespace (`ip netns exec NS node tls-probe.js …`):
// each prints one JSON line. http: a request over plain HTTP or HTTPS (verified against --ca, or not
// verified at all with --no-verify, to read what an attacker's client would see); spice: a SPICE link.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { spiceLink } from '../gateway/protocols.js';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

interface HttpAnswer {
  status?: number;
  headers?: Record<string, string | string[] | undefined>;
  body?: string;
  fingerprint?: string;
  error?: string;
}

function http(url: string): Promise<HttpAnswer> {
  const ca = flag('--ca');
  const body = flag('--body');
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  return new Promise((resolve) => {
    const send = secure ? httpsRequest : httpRequest;
    const req = send(
      {
        hostname: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: flag('--method') ?? 'GET',
        headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(flag('--token') ? { authorization: `Bearer ${flag('--token')}` } : {}) },
        ...(secure ? { ca: ca ? readFileSync(ca) : undefined, rejectUnauthorized: !process.argv.includes('--no-verify'), agent: false } : {}),
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          const fingerprint = secure ? (res.socket as TLSSocket).getPeerCertificate?.()?.fingerprint256 : undefined;
          resolve({ status: res.statusCode, headers: res.headers, body: text, fingerprint });
        });
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('timed out')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: `${err.code ?? ''} ${err.message}` }));
    req.end(body);
  });
}

async function spice(): Promise<{ result?: number; error?: string }> {
  const [host, port, password] = process.argv.slice(3);
  const ca = flag('--ca');
  try {
    const tls = ca ? { ca: readFileSync(ca, 'utf8'), hostSubject: flag('--subject') ?? '' } : undefined;
    return { result: await spiceLink(host!, Number(port), password!, tls) };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Connects and resets the connection (TCP RST) before sending a byte: a client vanishing mid-way. */
function reset(): Promise<{ result: number }> {
  const [host, port] = process.argv.slice(3);
  return new Promise((resolve) => {
    const socket = connect(Number(port), host!, () => {
      socket.resetAndDestroy();
      resolve({ result: 0 });
    });
    socket.on('error', () => resolve({ result: 1 }));
  });
}

const what = process.argv[2];
const out = what === 'http' ? await http(process.argv[3]!) : what === 'spice' ? await spice() : what === 'reset' ? await reset() : { error: `unknown probe ${what}` };
process.stdout.write(`${JSON.stringify(out)}\n`);
