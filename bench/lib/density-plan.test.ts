import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DENSITY_MODES, DENSITY_RESERVE_BYTES, densityArgs, densityFigures, densityStep, guestRamPssBytes, pssBytes } from './density-plan.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

test('PSS from smaps_rollup, in bytes', () => {
  const rollup = '55d0c0a8e000-7ffd1c9fe000 ---p 00000000 00:00 0  [rollup]\nRss:              231400 kB\nPss:              118210 kB\nPss_Anon:         110000 kB\n';
  assert.equal(pssBytes(rollup), 118210 * 1024);
  assert.throws(() => pssBytes('Rss: 1 kB\n'), /no Pss/);
});

test("the guest RAM's PSS: the one mapping of the VM's memory size", () => {
  const smaps = [
    '7f0000000000-7f0020000000 rw-p 00000000 00:00 0 ',
    'Size:             524288 kB',
    'Rss:              100000 kB',
    'Pss:               60000 kB',
    'VmFlags: rd wr mr mw me ac sd mg ',
    '7f1000000000-7f1004000000 rwxp 00000000 00:00 0 ',
    'Size:              65536 kB',
    'Pss:               40000 kB',
    'VmFlags: rd wr ex mr mw me ac sd ',
  ].join('\n');
  assert.equal(guestRamPssBytes(smaps, 512), 60000 * 1024);
  assert.throws(() => guestRamPssBytes(smaps, 256), /0 mappings of 256 MiB/);
});

test('when to stop adding desktops: below the reserve the last one did not fit; else at the bound', () => {
  const rows: Array<[number, number, number, ReturnType<typeof densityStep>]> = [
    [1, 20 * GiB, 6, { stop: false }],
    [6, 20 * GiB, 6, { stop: true, fit: 6, why: 'bound' }],
    [4, DENSITY_RESERVE_BYTES - 1, 6, { stop: true, fit: 3, why: 'reserve' }],
    [6, DENSITY_RESERVE_BYTES - 1, 6, { stop: true, fit: 5, why: 'reserve' }],
    [3, DENSITY_RESERVE_BYTES, 6, { stop: false }],
  ];
  for (const [running, available, max, expected] of rows) assert.deepEqual(densityStep(running, available, max), expected, `${running} running, ${available} B available`);
});

test("one mode's figures: PSS per desktop and the projection from the memory available at the start", () => {
  const f = densityFigures('booted', { stop: true, fit: 3, why: 'bound' }, [100 * MiB, 120 * MiB, 110 * MiB], [40 * MiB, 50 * MiB, 60 * MiB], 12 * GiB);
  assert.deepEqual(f.pssPerDesktopMiB, { n: 3, median: 110, min: 100, max: 120, mean: 110 });
  assert.deepEqual(f.guestRamPssPerDesktopMiB, { median: 50, mean: 50 });
  assert.equal(f.projectedFit, Math.floor((12 * GiB - DENSITY_RESERVE_BYTES) / (110 * MiB)));
  assert.equal(densityFigures('x', { stop: true, fit: 1, why: 'reserve' }, [1 * GiB], [1], 1 * GiB).projectedFit, 0, 'never negative');
  assert.throws(() => densityFigures('x', { stop: true, fit: 0, why: 'reserve' }, [], [], 1), /no desktop was measured/);
  assert.throws(() => densityFigures('x', { stop: true, fit: 1, why: 'bound' }, [1], [], 1), /1 desktops measured but 0 guest RAM/);
});

test('--max-desktops and --modes', () => {
  assert.deepEqual(densityArgs([], { maxDesktops: 100 }), { maxDesktops: 100, modes: [...DENSITY_MODES] });
  assert.equal(densityArgs(['density', '--max-desktops', '6'], { maxDesktops: 100 }).maxDesktops, 6);
  assert.deepEqual(densityArgs(['--modes', 'booted+ksm'], { maxDesktops: 1 }).modes.map((m) => m.name), ['booted+ksm']);
  assert.throws(() => densityArgs(['--max-desktops', '0'], { maxDesktops: 1 }), /whole number from 1 to 500/);
  assert.deepEqual(densityArgs(['--modes', 'restored,booted'], { maxDesktops: 1 }).modes.map((m) => m.name), ['restored', 'booted']);
  assert.throws(() => densityArgs(['--modes', 'restored+swap'], { maxDesktops: 1 }), /no density mode restored\+swap; known: booted, booted\+ksm, restored, restored\+ksm/);
});
