import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chargeSample, parseProcStat, type ProcSample, type SeenProc } from './cpu-by-file.js';

test('a /proc/PID/stat line: a command name with spaces and parentheses does not shift the fields', () => {
  const fields = (comm: string) => `4242 (${comm}) S 17 4242 4242 0 -1 4194560 500 0 0 0 120 30 0 0 20 0 3 0 98765 1000000 200 18446744073709551615`;
  assert.equal(parseProcStat('7 (node) S 1 7 7 0 -1 0 0 0 0 0 10 5 40 2 20 0 1 0 55 0 0 0')?.children, 42);
  for (const comm of ['qemu-system-x86', 'a b', 'x) S 1 (y', '']) {
    assert.deepEqual(parseProcStat(fields(comm)), { pid: 4242, ppid: 17, start: 98765, cpu: 150, children: 0 }, comm);
  }
  assert.equal(parseProcStat('garbage'), undefined);
});

test('each process is charged to its nearest owned ancestor, once per tick used, a reused pid as a new process', () => {
  const owners: Record<number, string> = { 10: 'a.test.js', 20: 'b.test.js' };
  const ownerOf = (pid: number) => owners[pid];
  const seen = new Map<string, SeenProc>();
  const totals = new Map<string, number>();
  const p = (pid: number, ppid: number, cpu: number, start = 1, children = 0): ProcSample => ({ pid, ppid, start, cpu, children });
  // a's daemon (11) and its QEMU (12); b itself; the runner (2) and an unowned process (30).
  chargeSample([p(2, 1, 5), p(10, 2, 3), p(11, 10, 7), p(12, 11, 100), p(20, 2, 4), p(30, 1, 50)], ownerOf, seen, totals);
  assert.deepEqual(Object.fromEntries(totals), { 'a.test.js': 110, 'b.test.js': 4 });
  // Only what each used since: the QEMU 40 more, b nothing; pid 11 gone and reused by a process of b's.
  chargeSample([p(2, 1, 6), p(10, 2, 3), p(12, 10, 140), p(20, 2, 4), p(11, 20, 9, 2)], ownerOf, seen, totals);
  assert.deepEqual(Object.fromEntries(totals), { 'a.test.js': 150, 'b.test.js': 13 });
  assert.equal(seen.has('11@1'), false, 'a process gone is forgotten');
});

test('a child reaped between samples is charged through its reaper, without what was charged of it while it ran', () => {
  const ownerOf = (pid: number) => (pid === 10 ? 'a.test.js' : undefined);
  const seen = new Map<string, SeenProc>();
  const totals = new Map<string, number>();
  const p = (pid: number, ppid: number, cpu: number, children = 0): ProcSample => ({ pid, ppid, start: 1, cpu, children });
  chargeSample([p(10, 2, 3), p(11, 10, 20)], ownerOf, seen, totals);
  assert.equal(totals.get('a.test.js'), 23);
  // 11 ran 5 more ticks and was reaped by 10, as was a CLI run never sampled (30 ticks): 10's children's time is 55.
  chargeSample([p(10, 2, 3, 55)], ownerOf, seen, totals);
  assert.equal(totals.get('a.test.js'), 23 + 5 + 30);
  // An unowned process's children are nobody's.
  chargeSample([p(10, 2, 3, 55), p(40, 1, 1, 500)], ownerOf, seen, totals);
  assert.equal(totals.get('a.test.js'), 58);
});
