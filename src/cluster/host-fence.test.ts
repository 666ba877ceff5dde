import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type FenceCandidate, fenceConfigLoad, fenceConfigParse, FENCE_RETRY_MS, fenceStatusOf, fenceWanted, HostFencer } from './host-fence.js';
import { HOST_SILENT_AFTER_MS } from './host-liveness.js';

const dir = mkdtempSync(join(tmpdir(), 'ard-fence-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('fenceConfigParse: host → absolute agent path and options, no action', () => {
  const ok = fenceConfigParse('{"blade2": ["/usr/sbin/fence_ipmilan", "--ip=10.0.0.12", "--password-script=/etc/ardesia/bmc"]}');
  assert.ok(ok instanceof Map);
  assert.deepEqual(ok.get('blade2'), ['/usr/sbin/fence_ipmilan', '--ip=10.0.0.12', '--password-script=/etc/ardesia/bmc']);
  const bad: Array<[string, RegExp]> = [
    ['not json', /not JSON/],
    ['["/usr/sbin/fence_ipmilan"]', /must be an object/],
    ['{"bad name!": ["/usr/sbin/fence_x"]}', /not a host name/],
    ['{"b2": []}', /non-empty array/],
    ['{"b2": "fence_ipmilan --ip=1"}', /non-empty array/],
    ['{"b2": ["fence_ipmilan"]}', /absolute path/],
    ['{"b2": ["/usr/sbin/fence_ipmilan", "-o", "off"]}', /leave out the action/],
    ['{"b2": ["/usr/sbin/fence_ipmilan", "--action=reboot"]}', /leave out the action/],
  ];
  for (const [text, why] of bad) {
    const r = fenceConfigParse(text);
    assert.equal(typeof r, 'string', text);
    assert.match(r as string, why, text);
  }
});

test('fenceConfigLoad: a file others may write is refused (its commands run as root)', () => {
  const file = join(dir, 'fence.json');
  writeFileSync(file, '{"b2": ["/usr/sbin/fence_ipmilan"]}');
  chmodSync(file, 0o600);
  assert.equal(fenceConfigLoad(file).size, 1);
  chmodSync(file, 0o666);
  assert.throws(() => fenceConfigLoad(file), (e: Error & { code?: string }) => e.code === 'FENCE_CONFIG_INVALID' && /writable by root only/.test(e.message));
  assert.throws(() => fenceConfigLoad(join(dir, 'none.json')), (e: Error & { code?: string }) => e.code === 'FENCE_CONFIG_INVALID');
});

test('fenceWanted: only a silent host with a device, never one renewing its storage lease (cut off only), retried a minute apart', () => {
  const base: FenceCandidate = { name: 'b2', exempt: false, heartbeatAgeMs: HOST_SILENT_AFTER_MS + 1, storage: undefined, configured: true, confirmedOff: false, lastTryAgeMs: undefined, linked: false };
  const table: Array<[string, Partial<FenceCandidate>, boolean]> = [
    ['silent, no lease to judge by', {}, true],
    ['silent, its renewals late', { storage: 'failing' }, true],
    ['silent but renewing: cut off only, never fenced by itself', { storage: 'renewing' }, false],
    ['its lease expired: down already', { storage: 'expired' }, false],
    ['heartbeating', { heartbeatAgeMs: 5_000 }, false],
    ['no device configured', { configured: false }, false],
    ['already confirmed off', { confirmedOff: true }, false],
    ["the controller's own host, one in maintenance or recorded down", { exempt: true }, false],
    ['tried a moment ago', { lastTryAgeMs: 5_000 }, false],
    ['its agent linked, its first heartbeat still to come (joining, or back)', { linked: true }, false],
    ['tried a minute ago', { lastTryAgeMs: FENCE_RETRY_MS }, true],
  ];
  for (const [what, over, want] of table) assert.equal(fenceWanted({ ...base, ...over }), want, what);
  assert.deepEqual([0, 1, 2, null, 3].map(fenceStatusOf), ['on', 'unknown', 'off', 'unknown', 'unknown']);
});

test('HostFencer: off then status through the agent; confirmed off until a newer heartbeat; a failure retried, audited either way', async () => {
  // A fence agent as fence-agents' API has it: --action=off|status; status exits 0 (on) or 2 (off).
  const power = join(dir, 'power');
  const agent = join(dir, 'fence_test');
  writeFileSync(power, 'on');
  writeFileSync(agent, `#!/bin/sh\nfor a; do case "$a" in --action=off) [ -e ${dir}/broken ] && exit 1; echo off > ${power}; echo "Success: Powered OFF"; exit 0;; --action=status) grep -q off ${power} && { echo "Status: OFF"; exit 2; }; echo "Status: ON"; exit 0;; esac; done; exit 1\n`);
  chmodSync(agent, 0o755);
  const audit: Array<[string, string]> = [];
  const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const fencer = new HostFencer(new Map([['b2', [agent, '--ip=192.0.2.1']], ['b3', [agent]]]), async (host, d) => void audit.push([host, d.outcome]), quiet);
  const silentAt = new Date(Date.now() - 2 * HOST_SILENT_AFTER_MS).toISOString();
  const rows = [{ name: 'b2', state: 'up', heartbeat_at: silentAt, agent_linked_at: null }, { name: 'b1', state: 'up', heartbeat_at: silentAt, agent_linked_at: null }];
  writeFileSync(join(dir, 'broken'), '');
  fencer.pass(rows, Date.now(), 'b1', new Map());
  await fencer.settled();
  assert.deepEqual(audit, [['b2', 'failed']], 'a device that fails leaves the host suspect');
  assert.equal(fencer.confirmedOff(rows).size, 0);
  fencer.pass(rows, Date.now(), 'b1', new Map());
  await fencer.settled();
  assert.equal(audit.length, 1, 'not tried again within a minute');
  rmSync(join(dir, 'broken'));
  const later = new HostFencer(new Map([['b2', [agent]]]), async (host, d) => void audit.push([host, d.outcome]), quiet);
  later.pass(rows, Date.now(), 'b1', new Map([['b2', 'renewing']]));
  await later.settled();
  assert.equal(audit.length, 1, 'a host renewing its storage lease is not powered off');
  later.pass(rows, Date.now(), 'b1', new Map());
  await later.settled();
  assert.deepEqual(audit.at(-1), ['b2', 'off']);
  assert.equal(readFileSync(power, 'utf8').trim(), 'off');
  assert.deepEqual([...later.confirmedOff(rows)], ['b2']);
  assert.deepEqual([...later.confirmedOff([{ ...rows[0]!, heartbeat_at: new Date().toISOString() }])], [], 'a newer heartbeat: back on');
});
