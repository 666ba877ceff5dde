// A PC on the thin-client network posing as the portal (run in its own test namespace, holding the address the thin
// client knows as the portal): plain HTTP — the unprotectable PXE part — is relayed to the real daemon unchanged, and
// every TLS connection is answered with its own self-signed certificate for that address. One JSON line per event.
//   node thinclient-impostor.js --address A --port P --upstream HOST:PORT --cert C --key K --colour RRGGBB
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { createServer as createHttpsServer } from 'node:https';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { address: { type: 'string' }, port: { type: 'string' }, upstream: { type: 'string' }, cert: { type: 'string' }, key: { type: 'string' }, colour: { type: 'string' } } });
const log = (event: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify({ t: Date.now(), ...event })}\n`);
const [upHost, upPort] = values.upstream!.split(':');

// What a kiosk that accepted this certificate would get: a page of the impostor's own (a fake login would go here).
const https = createHttpsServer({ cert: readFileSync(values.cert!), key: readFileSync(values.key!) }, (req, res) => {
  log({ event: 'tls-request', method: req.method, path: req.url, from: req.socket.remoteAddress });
  res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><html><body style="margin:0;height:100vh;background:#${values.colour ?? 'c02b2b'}"></body></html>`);
});
https.on('secureConnection', (socket) => log({ event: 'tls-accepted', from: socket.remoteAddress }));
https.on('tlsClientError', (err, socket) => log({ event: 'tls-refused', from: socket.remoteAddress, error: err.message }));

const server = createServer((socket) => {
  socket.once('data', (first: Buffer) => {
    socket.pause();
    if (first[0] === 0x16) {
      // A TLS ClientHello: the client asked for the portal over HTTPS.
      const from = socket.remoteAddress;
      log({ event: 'tls-hello', from });
      // Logged after any tls-accepted/tls-request of this connection: the end of what this client gave away.
      socket.on('close', () => log({ event: 'tls-closed', from }));
      // Put back, paused: the TLS wrap reads the buffered ClientHello itself (as src/daemon/listener.ts does).
      socket.unshift(first);
      https.emit('connection', socket);
      return;
    }
    const line = first.toString('latin1').split('\r\n')[0];
    log({ event: 'plain', from: socket.remoteAddress, line });
    const up = connect(Number(upPort), upHost, () => {
      up.write(first);
      socket.pipe(up).pipe(socket);
      socket.resume();
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  socket.on('error', () => undefined);
});
server.listen(Number(values.port), values.address, () => log({ event: 'ready' }));
