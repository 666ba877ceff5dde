// Router advertisements on a full-mode link, checked with a real IPv6 host tool (rdisc6 from ndisc6)
// in network namespaces: the answer says "no default router, no prefixes, no DHCPv6", comes from a
// responder that runs as nobody, only in full mode; and a real router on the link silences it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeRouterAdvertisement } from '../../src/netboot/ra/codec.js';
import { raResponderBinary } from '../../src/netboot/ra/responder.js';
import { NetLab } from './lab.js';

/** rdisc6 on eth0 in `ns`: its report of the first advertisement (every one within 2 s if `all`), or undefined when none came. */
async function solicit(lab: NetLab, ns: string, all = false): Promise<string | undefined> {
  try {
    const { stdout } = await lab.exec(ns, 'rdisc6', [...(all ? [] : ['-1']), '-r', all ? '1' : '3', '-w', '2000', 'eth0']);
    return stdout;
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    if (e.code === 1 || e.code === 2) return undefined; // no advertisement received
    throw err;
  }
}

test('full mode: an RS gets an RA with router lifetime 0, M=0 O=0 and no prefix, from a responder that dropped root', async () => {
  const lab = await NetLab.create('ra');
  try {
    const srv = await lab.addHost('srv', '10.250.31.1/24');
    const cli = await lab.addHost('cli');
    const serverLinkLocal = await lab.ipv6LinkLocal(srv);
    const clientLinkLocal = await lab.ipv6LinkLocal(cli);
    const server = await lab.startServer(srv, ['--interface', '10.250.31.1', '--mode', 'full', '--range', '10.250.31.100-10.250.31.120', '--no-tftp']);
    const ready = await server.waitFor((e) => e.event === 'ra-ready', 20_000, 'ra-ready');
    assert.equal(ready.link, 'eth0');
    assert.equal(ready.uid, 65534, 'the responder runs as nobody once its socket is open');
    const report = await solicit(lab, cli);
    assert.ok(report, 'rdisc6 received an advertisement');
    assert.match(report, new RegExp(`from ${serverLinkLocal.replace(/:/g, ':')}`));
    assert.match(report, /Stateful address conf\.\s*:\s*No/);
    assert.match(report, /Stateful other conf\.\s*:\s*No/);
    assert.match(report, /Router lifetime\s*:\s*0 /);
    assert.doesNotMatch(report, /Prefix\s*:/);
    const answered = await server.waitFor((e) => e.event === 'ra-answered', 10_000, 'ra-answered');
    assert.equal(answered.solicitor, clientLinkLocal);
    assert.equal(answered.delivery, 'unicast');
  } finally {
    await lab.destroy();
  }
});

test('proxy mode: the office network\'s routers speak for it, Ardesia sends no RA', async () => {
  const lab = await NetLab.create('rb');
  try {
    const srv = await lab.addHost('srv', '10.250.32.1/24');
    const cli = await lab.addHost('cli');
    await lab.ipv6LinkLocal(srv);
    await lab.ipv6LinkLocal(cli);
    const server = await lab.startServer(srv, ['--interface', '10.250.32.1', '--mode', 'proxy', '--no-tftp']);
    await server.waitFor((e) => e.event === 'ready');
    assert.equal(await solicit(lab, cli), undefined);
    assert.ok(!server.events.some((e) => String(e.event).startsWith('ra-')), JSON.stringify(server.events));
  } finally {
    await lab.destroy();
  }
});

test('a real IPv6 router on the link (router lifetime 1800 s): Ardesia stops answering there', async () => {
  const binary = raResponderBinary().path;
  assert.ok(binary, 'the responder is built by setup');
  const lab = await NetLab.create('rc');
  try {
    const srv = await lab.addHost('srv', '10.250.33.1/24');
    const rtr = await lab.addHost('rtr');
    const cli = await lab.addHost('cli');
    await lab.ipv6LinkLocal(cli);
    const serverLinkLocal = await lab.ipv6LinkLocal(srv);
    const routerLinkLocal = await lab.ipv6LinkLocal(rtr);
    // The "router": the same responder with a real router's advertisement (lifetime 1800 s, O set).
    const routerRa = encodeRouterAdvertisement({ managed: false, other: true, routerLifetimeSeconds: 1800 }).toString('hex');
    const router = lab.spawn(rtr, binary, ['eth0', routerRa, String(process.pid)]);
    await new Promise<void>((resolve) => router.stdout!.once('data', () => resolve()));
    const server = await lab.startServer(srv, ['--interface', '10.250.33.1', '--mode', 'full', '--range', '10.250.33.100-10.250.33.120', '--no-tftp']);
    await server.waitFor((e) => e.event === 'ra-ready', 20_000, 'ra-ready');
    // A solicitation from the server's own host: the router's answer reaches the responder's socket.
    const report = await solicit(lab, srv, true);
    assert.ok(report?.includes(`from ${routerLinkLocal}`), report);
    const quiet = await server.waitFor((e) => e.event === 'ra-other-router', 10_000, 'ra-other-router');
    assert.equal(quiet.router, routerLinkLocal);
    // A client now hears the router only: the responder stopped and was not restarted.
    const heard = await solicit(lab, cli, true);
    assert.ok(heard?.includes(`from ${routerLinkLocal}`), heard);
    assert.ok(!heard?.includes(`from ${serverLinkLocal}`), heard);
    assert.ok(!server.events.some((e) => e.event === 'ra-restart'), JSON.stringify(server.events));
  } finally {
    await lab.destroy();
  }
});
