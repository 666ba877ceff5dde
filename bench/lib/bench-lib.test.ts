import assert from 'node:assert/strict';
import { test } from 'node:test';
import { alternatedOrder, EmptySampleError, median, pairedRatios, round, summarize } from './stats.js';

test('median of odd and even samples, unsorted input untouched', () => {
  const input = [5, 1, 3];
  assert.equal(median(input), 3);
  assert.deepEqual(input, [5, 1, 3]);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.throws(() => median([]), EmptySampleError);
});

test('summary gives n, median, min and max', () => {
  assert.deepEqual(summarize([10, 30, 20, 40, 50]), { n: 5, median: 30, min: 10, max: 50 });
  assert.throws(() => summarize([]), EmptySampleError);
});

test('paired ratios divide round by round and refuse uneven sides', () => {
  assert.deepEqual(pairedRatios([110, 220], [100, 200]), [1.1, 1.1]);
  assert.throws(() => pairedRatios([1, 2], [1]), /as many runs/);
});

test('alternated order is A B A B …', () => {
  assert.deepEqual(alternatedOrder(['a', 'b'], 2).map((o) => `${o.round}${o.side}`), ['0a', '0b', '1a', '1b']);
  assert.deepEqual(alternatedOrder(['a'], 0), []);
});

test('round keeps the asked decimals', () => {
  assert.equal(round(1.23456), 1.23);
  assert.equal(round(1.23456, 3), 1.235);
});

test('VmRSS and the CPU model are read from /proc text', async () => {
  const { parseCpuModel, parseVmRssKiB } = await import('./host.js');
  assert.equal(parseVmRssKiB('Name:\tnode\nVmRSS:\t   81234 kB\nRssAnon:\t 1 kB\n'), 81234);
  assert.equal(parseVmRssKiB('Name:\tzombie\n'), undefined);
  assert.equal(parseCpuModel('processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: x\n'), 'AMD EPYC 7B13');
  assert.equal(parseCpuModel(''), 'unknown');
});

test('the banner is found when split across one-byte chunks, and only once', async () => {
  const { BannerWatch } = await import('./banner.js');
  const watch = new BannerWatch('ARDESIA-GUEST amd64 READY');
  const text = 'noise\r\nARDESIA-GUEST amd64 READY\r\n';
  const hits = [...text].map((c, i) => watch.feed(c, i)).filter(Boolean);
  assert.equal(hits.length, 1);
  assert.equal(watch.seenAt, text.indexOf('READY') + 'READY'.length - 1);
  assert.equal(watch.feed('ARDESIA-GUEST amd64 READY'), false);
  const never = new BannerWatch('READY');
  assert.equal(never.feed('REA'), false);
  assert.equal(never.seenAt, undefined);
});

test('result file names sort by time and hold no colons', async () => {
  const { resultFileName } = await import('./report.js');
  assert.equal(resultFileName('vm-start', new Date('2026-11-26T03:50:12.345Z')), 'vm-start-2026-11-26T03-50-12Z.json');
});

test('the terminal table lists every row and says MISSED plainly', async () => {
  const { formatResult } = await import('./report.js');
  const text = formatResult({
    name: 'x',
    rows: [{ label: 'a ratio', unit: 'ratio', n: 3, median: 1.2, min: 1.1, max: 1.3 }],
    verdicts: [{ what: 'ratio', value: 1.2, target: 1.1, kind: 'max', met: false }],
    details: {},
  });
  assert.match(text, /a ratio\s+3\s+1\.200\s+1\.100\s+1\.300\s+ratio/);
  assert.match(text, /MISSED ratio: 1\.200 \(target ≤ 1\.1\)/);
});

test('argv of two launches compares equal once per-run paths and names are replaced', async () => {
  const { normalizedArgv } = await import('../vm-start.js');
  const rawArgv = ['-name', 'guest=vs-raw-0', '-pidfile', '/tmp/a/vs-raw-0/qemu.pid', '-D', '/tmp/a/vs-raw-0/qemu.log'];
  const out = normalizedArgv(rawArgv, [['/tmp/a/vs-raw-0/qemu.log', '<LOG>'], ['/tmp/a/vs-raw-0', '<RUNTIME>'], ['vs-raw-0', '<NAME>']]);
  assert.deepEqual(out, ['-name', 'guest=<NAME>', '-pidfile', '<RUNTIME>/qemu.pid', '-D', '<LOG>']);
});

test("the inspector address is read from Node's announcement", async () => {
  const { inspectorUrl } = await import('./inspector-gc.js');
  const out = 'x\nDebugger listening on ws://127.0.0.1:40123/0f1e-22\nFor help, see: https://nodejs.org/en/docs/inspector\n';
  assert.equal(inspectorUrl(out), 'ws://127.0.0.1:40123/0f1e-22');
  assert.equal(inspectorUrl('ardesia daemon listening'), undefined);
});
