#!/usr/bin/env node
// Runs the given test files in the order given (node --test sorts them; run() keeps the order), with the
// spec reporter; exits non-zero when any test failed, or was skipped without an entry in
// test/skips-allowed.json (a skip is a test that did not run: it must not pass silently).
// Started by run-tests.mjs with --enable-source-maps, after the build (dist/scripts/test-skips.js).
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { fileURLToPath } from 'node:url';
import { startCpuSampler } from '../dist/scripts/cpu-by-file.js';
import { skipReport, skipSourceFile, skipsAllowedParse } from '../dist/scripts/test-skips.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const allowList = skipsAllowedParse(readFileSync(join(root, 'test', 'skips-allowed.json'), 'utf8'));
const files = process.argv.slice(2);
const concurrency = Number(process.env.ARDESIA_TEST_CONCURRENCY ?? '2');
// Files that spend much of their time waiting (sanlock's host_dead_seconds before a host is judged down, a lockspace
// rejoin: over a minute each; a guest's power-button timeout) run one at a time in a lane of their own beside the
// `concurrency` slots (ARDESIA_TEST_WAIT_LANE=0: in the slots). On 2 cores it took the suite from 2290 s to 1927 s
// (2026-12-06). The image files joined it on 2026-12-07: each kept a core under a quarter busy for minutes of its slot.
const WAIT_LANE = ['test/cluster/desktop-migration', 'test/cluster/agent-desktops', 'test/cluster/home-leases', 'test/chaos/cluster.test',
  'test/api/openapi-responses.test', 'test/images/lifecycle.test', 'test/images/publish-failures.test'];
const waits = (f) => process.env.ARDESIA_TEST_WAIT_LANE !== '0' && WAIT_LANE.some((prefix) => relative(join(root, 'dist'), f).startsWith(prefix));
const lanes = [{ files: files.filter((f) => !waits(f)), concurrency }, { files: files.filter(waits), concurrency: 1 }].filter((l) => l.files.length > 0);
let failed = false;
const skips = [];
// Files named *postgres* use a real PostgreSQL: one cluster for the whole run, each file makes its own databases.
let cluster;
if (files.some((f) => f.includes('postgres'))) {
  const { startPostgresCluster, postgresAvailable, POSTGRES_ENV } = await import('../dist/test/helpers/postgres.js');
  if (postgresAvailable()) {
    cluster = await startPostgresCluster();
    process.env[POSTGRES_ENV] = cluster.url;
    process.on('exit', () => cluster.stop());
    // Ctrl-C or a CI timeout: the cluster goes too (pg_ctl stop), not left running in /tmp.
    for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(1));
  }
}
/** The machine's CPU ticks (busy, all) from /proc/stat: how busy the run kept the cores, to judge the concurrency. */
const cpuTicks = () => {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3] + (f[4] ?? 0);
    const all = f.reduce((a, b) => a + b, 0);
    return { busy: all - idle, all };
  } catch {
    return undefined;
  }
};
const cpuAtStart = cpuTicks();
// Whose processes used the CPU (a test file's, with its daemons and QEMUs; the cache warmer's): what to make cheaper.
const testFileOf = (cmdline) => {
  if (cmdline.includes('warm-caches.js')) return 'the cache warmer (scripts/warm-caches.ts)';
  // node's runner starts each file as `node [--flags] FILE.test.js`; run-tests.mjs and this script name many files.
  const file = /^\S+(?: --\S+)* (\S+\.test\.js) ?$/.exec(cmdline)?.[1];
  return file ? relative(join(root, 'dist'), file).replace(/\.js$/, '.ts') : undefined;
};
const cpuSampler = files.length > 1 ? startCpuSampler(testFileOf) : undefined;
/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;
const runStart = Date.now();
const stream = lanes.length === 1 ? run(lanes[0]) : merged(lanes.map((l) => run(l)));
// Each file's time (its top-level tests run one after another), for the slowest-files list that guides the rounds in run-tests.mjs.
const fileMs = new Map();
const addFileTime = (data) => {
  if (data.nesting !== 0 || !data.file) return;
  const f = relative(root, data.file);
  fileMs.set(f, (fileMs.get(f) ?? 0) + (data.details?.duration_ms ?? 0));
};
stream.on('test:fail', (data) => {
  failed = true;
  addFileTime(data);
});
stream.on('test:pass', (data) => {
  addFileTime(data);
  if (data.skip === undefined && data.todo === undefined) return;
  const why = typeof data.skip === 'string' ? data.skip : typeof data.todo === 'string' ? `todo: ${data.todo}` : '(no reason given)';
  skips.push({ file: skipSourceFile(relative(root, data.file ?? '')), name: data.name, why });
});
const report = stream.compose(spec);
report.pipe(process.stdout, { end: false });
report.on('end', () => {
  // After the reporter's summary: the skips, the allowed ones with their reason, the others fail the run.
  const { text, refused } = skipReport(allowList, skips);
  if (text) process.stdout.write(text);
  const slowest = [...fileMs].sort((a, b) => b[1] - a[1]).slice(0, 40);
  if (slowest.length > 1) process.stdout.write(`\nslowest files:\n${slowest.map(([f, ms]) => `  ${(ms / 1000).toFixed(1).padStart(7)} s  ${f}`).join('\n')}\n`);
  const cpuAtEnd = cpuTicks();
  const cpuByFile = [...(cpuSampler?.stop() ?? new Map())].sort((a, b) => b[1] - a[1]);
  if (cpuByFile.length > 1) {
    const sampled = cpuByFile.reduce((sum, [, ticks]) => sum + ticks, 0) / TICKS_PER_SECOND;
    const machine = cpuAtStart && cpuAtEnd ? ` of the machine's ${((cpuAtEnd.busy - cpuAtStart.busy) / TICKS_PER_SECOND).toFixed(0)}` : '';
    process.stdout.write(`\nCPU by file (its processes and those they reaped, sampled every 2 s: ${sampled.toFixed(0)} CPU-s${machine}):\n${cpuByFile.slice(0, 30).map(([f, ticks]) => `  ${(ticks / TICKS_PER_SECOND).toFixed(0).padStart(7)} CPU-s  ${f}`).join('\n')}\n`);
  }
  const testsMs = [...fileMs.values()].reduce((a, b) => a + b, 0);
  const busy = cpuAtStart && cpuAtEnd ? ` (hooks not counted); the CPUs were ${((100 * (cpuAtEnd.busy - cpuAtStart.busy)) / (cpuAtEnd.all - cpuAtStart.all)).toFixed(0)}% busy` : '';
  if (fileMs.size > 1) process.stdout.write(`${fileMs.size} files in ${((Date.now() - runStart) / 1000).toFixed(0)} s, ${concurrency} at a time${lanes.length > 1 ? ' (and one lane of files that mostly wait)' : ''}; their tests took ${(testsMs / 1000).toFixed(0)} s in all${busy}\n`);
  process.exitCode = failed || refused > 0 ? 1 : 0;
});

/** The lanes' events as one stream for one reporter: each lane's closing plan and counts are summed into one. */
function merged(streams) {
  const out = new PassThrough({ objectMode: true });
  const totals = new Map();
  let open = streams.length;
  for (const s of streams) {
    s.on('data', (ev) => {
      const closing = ev.data?.nesting === 0 && !ev.data.file && (ev.type === 'test:plan' || ev.type === 'test:diagnostic');
      if (!closing) {
        out.emit(ev.type, ev.data); // the listeners below subscribe by event name, as on run()'s own stream
        out.write(ev);
        return;
      }
      if (ev.type === 'test:plan') return;
      const [key, value] = ev.data.message.split(' ');
      totals.set(key, key === 'duration_ms' ? Math.max(totals.get(key) ?? 0, Number(value)) : (totals.get(key) ?? 0) + Number(value));
    });
    s.on('end', () => {
      if (--open > 0) return;
      for (const [key, value] of totals) out.write({ type: 'test:diagnostic', data: { nesting: 0, message: `${key} ${value}` } });
      out.end();
    });
  }
  return out;
}
