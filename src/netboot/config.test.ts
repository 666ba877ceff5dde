import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArdesiaError } from '../contract/errors.js';
import { dhcpConfigFor, parseNetbootConfig, standaloneListenDefault } from './config.js';

const FULL = { address: '10.250.5.1', mode: 'full', subnetMask: '255.255.255.0', ranges: [{ start: '10.250.5.100', end: '10.250.5.150' }] };

function problemsOf(input: unknown): string[] {
  try {
    parseNetbootConfig(input);
  } catch (err) {
    assert.ok(err instanceof ArdesiaError);
    assert.equal(err.code, 'NETBOOT_CONFIG_INVALID');
    return (err.details as { problems: string[] }).problems;
  }
  assert.fail('accepted');
}

test('a full-mode interface: defaults filled in, DHCP config with the HTTP script URL on the daemon port', () => {
  const config = parseNetbootConfig({ interfaces: [FULL] });
  assert.equal(config.thinClients.requireApproval, false);
  assert.equal(config.interfaces[0]!.force, false);
  assert.equal(config.ipxeDir, '/usr/lib/ipxe');
  const dhcp = dhcpConfigFor(config.interfaces[0]!, 8080);
  assert.deepEqual(dhcp.ipxeHttp, { address: '10.250.5.1', port: 8080 });
  assert.equal(dhcp.full?.ranges[0]?.end, '10.250.5.150');
});

test('http in the file wins over the daemon port; proxy mode carries no address ranges', () => {
  const config = parseNetbootConfig({ interfaces: [{ address: '192.168.1.5', mode: 'proxy', http: { address: '192.168.1.6', port: 80 } }], thinClients: { requireApproval: true } });
  const dhcp = dhcpConfigFor(config.interfaces[0]!, 8080);
  assert.deepEqual(dhcp.ipxeHttp, { address: '192.168.1.6', port: 80 });
  assert.equal(dhcp.full, undefined);
  assert.equal(config.thinClients.requireApproval, true);
});

test('every problem is listed at once, with its path', () => {
  const problems = problemsOf({ interfaces: [{ ...FULL, address: '10.250.5', router: 'x' }, { mode: 'bogus' }], extra: 1 });
  assert.ok(problems.some((p) => p.startsWith('interfaces.0.address:')), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('interfaces.0.router:')), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('interfaces.1.mode:')), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('interfaces.1.address:')), problems.join('\n'));
  assert.ok(problems.some((p) => /Unrecognized key.*extra/.test(p)), problems.join('\n'));
});

test('DHCP-level checks are reported per interface: range outside the subnet, full mode without ranges, duplicates', () => {
  const problems = problemsOf({ interfaces: [
    { ...FULL, ranges: [{ start: '10.250.6.1', end: '10.250.6.9' }] },
    { address: '10.250.7.1', mode: 'full' },
    FULL,
  ] });
  assert.ok(problems.some((p) => p.startsWith('interfaces.0: full.ranges.0.start: outside')), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('interfaces.1: full.ranges')), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('interfaces.2.address: 10.250.5.1 is listed twice')), problems.join('\n'));
});

test('no interfaces at all is refused', () => {
  assert.ok(problemsOf({ interfaces: [] }).some((p) => p.startsWith('interfaces:')));
});

test('netboot serve listens by default on the first interface\'s HTTP port, unless that names another host\'s server', () => {
  const proxy = { address: '10.0.0.5', mode: 'proxy' };
  const cases: Array<[Record<string, unknown>, string]> = [
    [proxy, '0.0.0.0:8080'],
    [{ ...proxy, http: { port: 9090 } }, '0.0.0.0:9090'],
    [{ ...proxy, http: { address: '10.0.0.5', port: 9090 } }, '0.0.0.0:9090'],
    [{ ...proxy, http: { address: '10.9.0.1', port: 8443 } }, '0.0.0.0:8080'],
  ];
  for (const [iface, want] of cases) assert.equal(standaloneListenDefault(parseNetbootConfig({ interfaces: [iface] })), want, JSON.stringify(iface));
});
