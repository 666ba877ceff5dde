// The daemon's DHCP port with the real native/dhcp-port.c, on loopback and a high port (nothing leaves the
// host): a datagram reaches the responder of its receiving link with its source, the reply gets back, a
// link takes one responder, a missing helper is a registry error saying how to build it, and the helper
// ends with the last responder.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { test } from 'node:test';
import { ArdesiaError } from '../../src/contract/errors.js';
import { DhcpPort, linkIndex, type DhcpPortResponder } from '../../src/netboot/dhcp/port.js';

const PORT = 20000 + (process.pid % 20000);

function responder(got: Array<{ bytes: string; from: string }>, events: Array<Record<string, unknown>>): DhcpPortResponder {
  return {
    link: 'lo', ifindex: linkIndex('lo'), address: '127.0.0.1', log: (e) => events.push(e),
    receive: (bytes, source) => got.push({ bytes: bytes.toString(), from: `${source.address}:${source.port}` }),
  };
}

test('a datagram reaches the responder of its link and the reply gets back; one responder per link; the helper ends with the last', async () => {
  const port = new DhcpPort(PORT);
  const got: Array<{ bytes: string; from: string }> = [];
  const events: Array<Record<string, unknown>> = [];
  const attachment = await port.attach(responder(got, events));
  assert.ok(events.some((e) => e.event === 'dhcp-port-ready'), JSON.stringify(events));
  await assert.rejects(port.attach(responder([], [])), (err: ArdesiaError) => err.code === 'DHCP_PORT_UNAVAILABLE' && /already has a DHCP server/.test(err.message));

  const client = createSocket('udp4');
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
  const clientPort = client.address().port;
  const reply = new Promise<string>((resolve) => client.once('message', (m) => resolve(m.toString())));
  client.send('discover', PORT, '127.0.0.1');
  const deadline = Date.now() + 10_000;
  while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(got, [{ bytes: 'discover', from: `127.0.0.1:${clientPort}` }]);
  attachment.send(Buffer.from('offer'), { address: '127.0.0.1', port: clientPort });
  assert.equal(await reply, 'offer');
  client.close();

  attachment.detach();
  // The port is free again once the helper has gone: a plain socket can take it.
  const deadline2 = Date.now() + 10_000;
  for (;;) {
    const probe = createSocket('udp4');
    const bound = await new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.bind({ port: PORT, address: '127.0.0.1', exclusive: true }, () => resolve(true));
    });
    probe.close();
    if (bound) break;
    assert.ok(Date.now() < deadline2, 'the helper kept the port after the last responder left');
    await new Promise((r) => setTimeout(r, 50));
  }
});

test('a missing helper is DHCP_PORT_UNAVAILABLE, saying how to build it', async () => {
  const port = new DhcpPort(PORT + 1, { ARDESIA_DHCP_PORT: '/nonexistent/dhcp-port' });
  await assert.rejects(port.attach(responder([], [])), (err: ArdesiaError) => err.code === 'DHCP_PORT_UNAVAILABLE' && /setup\.mjs/.test(err.message));
});
