import assert from 'node:assert/strict';
import { test } from 'node:test';
import { percentile, poolsAnswerSize, procCpuSeconds, queriesPerRoute, ratioOf } from './list-answers.js';

test('nearest-rank percentiles of an ascending sample', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
  const cases: Array<[readonly number[], number, number]> = [
    [hundred, 50, 50],
    [hundred, 99, 99],
    [hundred, 100, 100],
    [hundred, 0, 1],
    [[1.234], 50, 1.2],
    [[1.25, 2, 3], 50, 2],
    [[10, 20], 99, 20],
  ];
  for (const [sample, p, want] of cases) assert.equal(percentile(sample, p), want, `p${p} of ${sample.length}`);
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('ratios to two decimals, NaN without a positive baseline', () => {
  const cases: Array<[number, number, number]> = [
    [150, 100, 1.5],
    [1, 3, 0.33],
    [0, 5, 0],
  ];
  for (const [a, b, want] of cases) assert.equal(ratioOf(a, b), want);
  assert.ok(Number.isNaN(ratioOf(1, 0)));
  assert.ok(Number.isNaN(ratioOf(1, Number.NaN)));
  assert.ok(Number.isNaN(ratioOf(Number.NaN, 1)));
});

test("the pools answer's size adds up every pool's total", () => {
  assert.deepEqual(poolsAnswerSize([{ counts: { total: 100 } }, { counts: { total: 3 } }]), { pools: 2, desktops: 103 });
  assert.deepEqual(poolsAnswerSize([]), { pools: 0, desktops: 0 });
  assert.throws(() => poolsAnswerSize({ pools: [] }), /did not answer a list/);
  assert.throws(() => poolsAnswerSize([{ name: 'p' }]), /no counts.total/);
});

test("per-request query counts are read from the daemon's debug lines only", () => {
  const log = [
    '{"level":20,"route":"GET /v1/pools","queries":3,"msg":"store queries of a request"}',
    '{"level":20,"route":"GET /v1/pools","queries":3,"msg":"store queries of a request"}',
    '{"level":20,"route":"GET /v1/desktops","queries":2,"msg":"store queries of a request"}',
    '{"level":20,"route":"GET /v1/desktops","queries":4,"msg":"store queries of a request"}',
    '{"level":30,"msg":"ardesia daemon listening"}',
    'store queries of a request (not JSON)',
    '{"level":20,"route":"GET /v1/vms","msg":"store queries of a request"}',
    '',
  ].join('\n');
  assert.deepEqual([...queriesPerRoute(log)], [
    ['GET /v1/pools', [3]],
    ['GET /v1/desktops', [2, 4]],
  ]);
  assert.equal(queriesPerRoute('').size, 0);
});

test('CPU seconds are read from /proc/PID/stat after the command name, spaces in it or not', () => {
  const tail = 'S 1 2 3 4 5 6 7 8 9 10 250 75 0 0 20 0 1 0 100';
  const cases: Array<[string, number]> = [
    [`123 (node) ${tail}`, 3.25],
    [`123 (a b) c) ${tail}`, 3.25],
    ['9 (x) R 1 2 3 4 5 6 7 8 9 10 0 0 0 0', 0],
  ];
  for (const [stat, want] of cases) assert.equal(procCpuSeconds(stat), want, stat);
  assert.throws(() => procCpuSeconds('garbage'), /not a \/proc/);
});
