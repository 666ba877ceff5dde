import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KSM_ON_PAGES_TO_SCAN, KSM_ON_SLEEP_MILLISECS, type KsmFile, ksmReportOf, ksmUnmergeRefusal, ksmWrites, memAvailableBytes } from './ksm.js';

const MiB = 1024 * 1024;
const DEBIAN_61_OFF: Partial<Record<KsmFile, string>> = { run: '0\n', pages_sharing: '0\n', pages_shared: '0\n', pages_unshared: '0\n', full_scans: '0\n', pages_to_scan: '100\n', sleep_millisecs: '20\n' };

test('the report from sysfs texts: mode, saved = pages_sharing × page size, absent files, unavailable KSM', () => {
  const rows: Array<{ what: string; files: Partial<Record<KsmFile, string>>; present: boolean; expect: Partial<ReturnType<typeof ksmReportOf>> }> = [
    { what: "Debian 12's 6.1, off, no general_profit", files: DEBIAN_61_OFF, present: true, expect: { available: true, mode: 'off', enabled: false, savedBytes: 0, generalProfitBytes: null, pagesToScan: 100, sleepMillisecs: 20 } },
    {
      what: 'on and merging',
      files: { ...DEBIAN_61_OFF, run: '1\n', pages_sharing: '25600\n', pages_shared: '1200\n', pages_unshared: '900\n', full_scans: '3\n', general_profit: '103000000\n' },
      present: true,
      expect: { mode: 'on', enabled: true, savedBytes: 100 * MiB, pagesSharing: 25600, pagesShared: 1200, pagesUnshared: 900, fullScans: 3, generalProfitBytes: 103000000 },
    },
    { what: 'unmerging', files: { ...DEBIAN_61_OFF, run: '2\n' }, present: true, expect: { mode: 'unmerge', enabled: false } },
    { what: 'a negative profit (bookkeeping costs more than the merges save)', files: { ...DEBIAN_61_OFF, general_profit: '-4096\n' }, present: true, expect: { generalProfitBytes: -4096 } },
    { what: 'an unknown run value', files: { ...DEBIAN_61_OFF, run: '7\n' }, present: true, expect: { mode: null, enabled: false } },
    { what: 'garbage counts read as 0', files: { ...DEBIAN_61_OFF, pages_sharing: 'x\n' }, present: true, expect: { savedBytes: 0, pagesSharing: 0 } },
    { what: 'no KSM in the kernel', files: {}, present: false, expect: { available: false, mode: null, enabled: false, savedBytes: 0, pagesToScan: null, sleepMillisecs: null } },
  ];
  for (const row of rows) {
    const report = ksmReportOf(row.files, 4096, row.present);
    for (const [key, value] of Object.entries(row.expect)) assert.deepEqual(report[key as keyof typeof report], value, `${row.what}: ${key}`);
  }
});

test('what each mode writes: the scan rate before run=1; off and unmerge write run only', () => {
  assert.deepEqual(ksmWrites('on'), [['pages_to_scan', String(KSM_ON_PAGES_TO_SCAN)], ['sleep_millisecs', String(KSM_ON_SLEEP_MILLISECS)], ['run', '1']]);
  assert.deepEqual(ksmWrites('off'), [['run', '0']], 'off never unmerges');
  assert.deepEqual(ksmWrites('unmerge'), [['run', '2']]);
});

test('an unmerge is refused unless what KSM saved, plus the reserve, is available', () => {
  const saved = (mib: number) => ksmReportOf({ run: '1', pages_sharing: String((mib * MiB) / 4096) }, 4096, true);
  assert.equal(ksmUnmergeRefusal(saved(500), 3000 * MiB, 1536 * MiB), null);
  assert.equal(ksmUnmergeRefusal(saved(0), 1536 * MiB, 1536 * MiB), null, 'nothing merged: exactly the reserve suffices');
  assert.match(ksmUnmergeRefusal(saved(2000), 3000 * MiB, 1536 * MiB) ?? '', /2000 MiB back at once .* 1536 MiB reserve.* 3000 MiB is available/);
});

test('MemAvailable from /proc/meminfo', () => {
  assert.equal(memAvailableBytes('MemTotal:       24683520 kB\nMemFree:        22993588 kB\nMemAvailable:   24156372 kB\n'), 24156372 * 1024);
  assert.equal(memAvailableBytes('MemTotal: 1 kB\n'), null);
});
