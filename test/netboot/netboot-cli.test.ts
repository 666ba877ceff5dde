// `ardesia netboot serve`: a bad configuration is refused with every problem listed; full mode
// refuses to start beside another DHCP server (dnsmasq in a namespace) with a non-zero exit.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { CLI, runCli, until } from '../helpers/daemon.js';
import { NetLab } from './lab.js';

const run = promisify(execFile);
let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'nbc-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

test('an invalid configuration: exit 1, every problem with its path', async () => {
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'interfaces:\n  - address: 10.250.8\n    mode: full\n    ranges: [{ start: 10.250.8.100, end: 10.250.8.50 }]\n  - { address: 10.250.9.1, mode: relay }\n');
  const r = await runCli(join(dir, 'data'), ['netboot', 'serve', '--config', file]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /netboot configuration .*bad\.yaml is invalid/);
  assert.match(r.stderr, /interfaces\.0\.address: must be an IPv4 address/);
  assert.match(r.stderr, /interfaces\.1\.mode:/);
  assert.match(r.stderr, /docs\/netboot\.md/);
});

test('full mode beside another DHCP server: refused with a clear error and a non-zero exit', async () => {
  const lab = await NetLab.create('c');
  try {
    const other = await lab.addHost('dns', '10.250.8.2/24');
    const srv = await lab.addHost('srv', '10.250.8.1/24');
    lab.spawn(other, '/usr/sbin/dnsmasq', ['--keep-in-foreground', '--no-daemon', '--conf-file=/dev/null', '--port=0', '--interface=eth0', '--bind-interfaces',
      '--dhcp-range=10.250.8.150,10.250.8.199,255.255.255.0,10m', `--dhcp-leasefile=${join(dir, 'leases')}`]);
    await until('dnsmasq to listen on port 67', async () => (await lab.exec(other, 'ss', ['-uln'])).stdout.includes(':67 '), 20_000);
    const file = join(dir, 'full.yaml');
    writeFileSync(file, 'interfaces:\n  - address: 10.250.8.1\n    mode: full\n    ranges: [{ start: 10.250.8.100, end: 10.250.8.120 }]\n    http: { port: 18080 }\n');
    const refused = await run('ip', ['netns', 'exec', srv, process.execPath, CLI, '--data-dir', join(dir, 'data'), 'netboot', 'serve', '--config', file], { timeout: 60_000 })
      .then(() => ({ code: 0 as number | null, stderr: '', killed: false }), (err: { code: number | null; stderr: string; killed?: boolean }) => err);
    assert.notEqual(refused.killed, true, 'netboot serve kept running: the probe saw no DHCP server');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /another DHCP server \(10\.250\.8\.2, from 10\.250\.8\.2\) answers on this network; full mode refuses/);
    assert.match(refused.stderr, /proxy/);
  } finally {
    await lab.destroy();
  }
});
