import assert from 'node:assert/strict';
import { test } from 'node:test';
import { migrationPlan, newestRelease } from './migrate-plan.js';
import { upgradeBackupName, upgradeBackupsToPrune } from './upgrade-backup.js';

test('migrationPlan: pending in name order, unknown ones reported', () => {
  const cases: Array<[string[], string[], string[], string[]]> = [
    [['0001_a', '0002_b'], [], ['0001_a', '0002_b'], []],
    [['0002_b', '0001_a'], ['0001_a'], ['0002_b'], []],
    [['0001_a', '0002_b'], ['0001_a', '0002_b'], [], []],
    // a branch merged later: its lower number still runs
    [['0001_a', '0002_b', '0003_c'], ['0001_a', '0003_c'], ['0002_b'], []],
    // a store a newer build upgraded
    [['0001_a'], ['0001_a', '0009_z', '0004_y'], [], ['0004_y', '0009_z']],
  ];
  for (const [known, recorded, pending, unknown] of cases) assert.deepEqual(migrationPlan(known, recorded), { pending, unknown }, `${known} / ${recorded}`);
});

test('newestRelease compares dotted numbers as numbers', () => {
  assert.equal(newestRelease(['0.9.0', '0.10.0', '0.2.1']), '0.10.0');
  assert.equal(newestRelease(['1.0.0']), '1.0.0');
  assert.equal(newestRelease([]), undefined);
});

test('upgradeBackupsToPrune keeps the newest, ignores other files', () => {
  const files = ['ardesia.db', 'ardesia.db-wal', 'ardesia.db.pre-upgrade-2026-01-02T00-00-00-000Z-0009_a', 'ardesia.db.pre-upgrade-2026-03-01T00-00-00-000Z-0010_b', 'ardesia.db.pre-upgrade-2025-12-31T00-00-00-000Z-0008_c', 'other'];
  assert.deepEqual(upgradeBackupsToPrune(files, 'ardesia.db', 2), ['ardesia.db.pre-upgrade-2025-12-31T00-00-00-000Z-0008_c']);
  assert.deepEqual(upgradeBackupsToPrune(files, 'ardesia.db', 3), []);
  assert.match(upgradeBackupName('ardesia.db', new Date('2026-01-02T03:04:05.006Z'), '0009_x'), /^ardesia\.db\.pre-upgrade-2026-01-02T03-04-05-006Z-0009_x$/);
});
