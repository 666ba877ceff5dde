// The daemon's netboot set through the API (`ardesia netboot show|set|clear`), in a namespace the test makes: a PC on
// the link gets a lease once it is set; a change that cannot start leaves the previous servers answering; a restart
// starts the stored configuration again; a daemon whose serve --netboot sets it refuses a change.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { NetbootStatus } from '../../src/contract/netboot.js';
import { TestDaemon } from '../helpers/daemon.js';
import { cliFails, cliJson } from '../images/support.js';
import { NetLab, UDHCPC_SCRIPT, udhcpcOnce } from './lab.js';

let lab: NetLab;
let dir: string;
let srv: string;
let pc: string;
let script: string;

const config = (address: string) => `interfaces:\n  - address: ${address}\n    mode: full\n    ranges: [{ start: 10.250.14.100, end: 10.250.14.120 }]\n    http: { port: 18080 }\n`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nba-'));
  script = join(dir, 'udhcpc.sh');
  writeFileSync(script, UDHCPC_SCRIPT, { mode: 0o755 });
  writeFileSync(join(dir, 'good.yaml'), config('10.250.14.1'));
  // An address this host does not have: its servers cannot bind.
  writeFileSync(join(dir, 'elsewhere.yaml'), config('10.250.14.9').replace('10.250.14.100', '10.250.14.101'));
  writeFileSync(join(dir, 'bad.yaml'), 'interfaces:\n  - { address: 10.250.14, mode: relay }\n');
  lab = await NetLab.create('api');
  srv = await lab.addHost('srv', '10.250.14.1/24');
  pc = await lab.addHost('pc');
});
after(async () => {
  await lab?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

test('set, a failed change, a restart and clear: the PC gets its lease whenever netboot runs', async () => {
  const daemon = await TestDaemon.start({ netns: srv });
  let fixed: TestDaemon | undefined;
  try {
    assert.equal((await cliJson<NetbootStatus>(daemon, ['netboot', 'show'])).source, 'none');
    assert.match((await daemon.cli(['netboot', 'show'])).stdout, /netboot: none: netboot is off/);

    const set = await cliJson<NetbootStatus>(daemon, ['netboot', 'set', join(dir, 'good.yaml')]);
    assert.deepEqual([set.source, set.running], ['api', true]);
    const lease = await udhcpcOnce(lab, pc, script);
    assert.match(lease.ip, /^10\.250\.14\.1(0\d|1\d|20)$/);
    assert.equal(lease.serverid, '10.250.14.1');

    // Every problem with its path, nothing changed.
    const invalid = await cliFails(daemon, ['netboot', 'set', join(dir, 'bad.yaml')]);
    assert.match(invalid.stderr, /interfaces\.0\.address: must be an IPv4 address/);
    assert.match(invalid.stderr, /interfaces\.0\.mode/);
    // A configuration whose servers cannot start: refused, and the previous servers answer again.
    const failed = await cliFails(daemon, ['netboot', 'set', join(dir, 'elsewhere.yaml')]);
    assert.match(failed.stderr, /netboot did not start with this configuration: .*\n.*ip -brief address/);
    const kept = await cliJson<NetbootStatus>(daemon, ['netboot', 'show']);
    assert.deepEqual([kept.running, (kept.config?.interfaces[0] as { address: string }).address], [true, '10.250.14.1']);
    assert.equal((await udhcpcOnce(lab, pc, script)).serverid, '10.250.14.1');

    // Restarted: the stored configuration starts with the daemon.
    await daemon.kill('SIGTERM');
    await daemon.spawn();
    const again = await cliJson<NetbootStatus>(daemon, ['netboot', 'show']);
    assert.deepEqual([again.source, again.running, again.error], ['api', true, null]);
    assert.equal((await udhcpcOnce(lab, pc, script)).serverid, '10.250.14.1');

    const cleared = await cliJson<NetbootStatus>(daemon, ['netboot', 'clear']);
    assert.deepEqual([cleared.source, cleared.running, cleared.config], ['none', false, null]);
    const audit = await daemon.api().request<Array<{ action: string }>>('GET', '/v1/audit');
    assert.deepEqual(audit.map((e) => e.action).filter((a) => a.startsWith('netboot.')).sort(), ['netboot.clear', 'netboot.set']);

    // serve --netboot FILE: the file is the source; the API shows it and refuses to change it.
    await daemon.kill('SIGTERM');
    fixed = new TestDaemon(daemon.dataDir, ['--netboot', join(dir, 'good.yaml')], srv, daemon.database);
    await fixed.spawn();
    const fromFile = await cliJson<NetbootStatus>(fixed, ['netboot', 'show']);
    assert.deepEqual([fromFile.source, fromFile.file, fromFile.running], ['serve', join(dir, 'good.yaml'), true]);
    const refused = await cliFails(fixed, ['netboot', 'set', join(dir, 'good.yaml')]);
    assert.match(refused.stderr, /--netboot/);
    await cliFails(fixed, ['netboot', 'clear']);
  } finally {
    await fixed?.destroy();
    await daemon.destroy();
  }
});
