import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deathWhileAwayReason } from './vm-reconcile.js';

const BOOT = Date.parse('2026-12-07T08:00:00Z');

test('a VM found dead at start: the host restarted under it when it started before this boot, else its QEMU exited', () => {
  const cases: Array<[string, string | null, number | undefined, string, string]> = [
    ['started before this boot', '2026-12-07T07:10:00Z', BOOT, '', 'the host restarted while it ran (a power loss, a crash or a reboot; this boot began 2026-12-07T08:00:00.000Z)'],
    ['started after this boot', '2026-12-07T08:05:00Z', BOOT, 'login:', 'QEMU exited while the daemon was not running (last console output: login:)'],
    ['started within the boot time\'s wander', '2026-12-07T07:59:59Z', BOOT, '', 'QEMU exited while the daemon was not running'],
    ['no start recorded', null, BOOT, '', 'QEMU exited while the daemon was not running'],
    ['the boot time unknown', '2026-12-07T07:10:00Z', undefined, '', 'QEMU exited while the daemon was not running'],
    ['with its last console line', '2026-12-07T07:10:00Z', BOOT, 'Debian login:', 'the host restarted while it ran (a power loss, a crash or a reboot; this boot began 2026-12-07T08:00:00.000Z) (last console output: Debian login:)'],
  ];
  for (const [name, startedAt, booted, last, expected] of cases) assert.equal(deathWhileAwayReason(startedAt, booted, last), expected, name);
});
