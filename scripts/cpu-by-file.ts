// Which test file's processes used the CPU: run-test-files.mjs samples /proc every few seconds during a run and
// charges each process's CPU time since the last sample to the test file it descends from (its daemons, QEMUs,
// browsers, CLI runs), or to the cache warmer. A process that ends between samples is counted by the process that
// reaps it (its children's time); QEMUs orphaned by a killed daemon are lost: the figures are a lower bound.
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcSample {
  pid: number;
  ppid: number;
  /** Clock ticks since boot when it started: with the pid, one process (pids are reused). */
  start: number;
  /** utime + stime, in clock ticks. */
  cpu: number;
  /** cutime + cstime: its reaped children's whole time. */
  children: number;
}

/** One /proc/PID/stat line: the fields after the command name (which may hold spaces and parentheses). */
export function parseProcStat(line: string): ProcSample | undefined {
  const close = line.lastIndexOf(')');
  if (close < 0) return undefined;
  const pid = Number(line.slice(0, line.indexOf(' ')));
  const f = line.slice(close + 2).split(' ');
  // f[0] is field 3 (state): ppid is field 4, utime 14, stime 15, cutime 16, cstime 17, starttime 22.
  const [ppid, utime, stime, cutime, cstime, start] = [f[1], f[11], f[12], f[13], f[14], f[19]].map(Number) as [number, number, number, number, number, number];
  if (![pid, ppid, utime, stime, cutime, cstime, start].every(Number.isFinite)) return undefined;
  return { pid, ppid, start, cpu: utime + stime, children: cutime + cstime };
}

/** What the last sample saw of a process. */
export interface SeenProc { cpu: number; children: number; owner: string | undefined }

/**
 * Charges the CPU each process used since `seen` last held it to the owner of its nearest ancestor that has one
 * (`ownerOf`: a test file, the warmer), and updates `seen`. A process first seen now is charged all its time. Its
 * reaped children's time is charged too, less what earlier samples already charged of the owner's processes now gone.
 */
export function chargeSample(procs: readonly ProcSample[], ownerOf: (pid: number) => string | undefined, seen: Map<string, SeenProc>, totals: Map<string, number>): void {
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const owners = new Map<number, string | undefined>();
  const ownerFor = (pid: number): string | undefined => {
    const chain: number[] = [];
    let found: string | undefined;
    for (let at: number | undefined = pid; at !== undefined && at > 1; at = byPid.get(at)?.ppid) {
      if (owners.has(at)) {
        found = owners.get(at);
        break;
      }
      chain.push(at);
      found = ownerOf(at);
      if (found !== undefined) break;
    }
    for (const p of chain) owners.set(p, found);
    return found;
  };
  const reaped = new Map<string, number>();
  const alive = new Set<string>();
  for (const p of procs) {
    const key = `${p.pid}@${p.start}`;
    alive.add(key);
    const before = seen.get(key);
    const owner = ownerFor(p.pid);
    seen.set(key, { cpu: p.cpu, children: p.children, owner });
    if (owner === undefined) continue;
    const used = p.cpu - (before?.cpu ?? 0);
    if (used > 0) totals.set(owner, (totals.get(owner) ?? 0) + used);
    const childrenUsed = p.children - (before?.children ?? 0);
    if (childrenUsed > 0) reaped.set(owner, (reaped.get(owner) ?? 0) + childrenUsed);
  }
  const chargedBefore = new Map<string, number>();
  for (const [key, gone] of seen) {
    if (alive.has(key)) continue;
    seen.delete(key);
    if (gone.owner !== undefined) chargedBefore.set(gone.owner, (chargedBefore.get(gone.owner) ?? 0) + gone.cpu + gone.children);
  }
  for (const [owner, ticks] of reaped) {
    const extra = ticks - (chargedBefore.get(owner) ?? 0);
    if (extra > 0) totals.set(owner, (totals.get(owner) ?? 0) + extra);
  }
}

/** Samples every `intervalMs` until stopped; `owner(cmdline)` names the owner of a process by its command line. */
export function startCpuSampler(owner: (cmdline: string) => string | undefined, intervalMs = 2000): { stop(): Map<string, number> } {
  const seen = new Map<string, SeenProc>();
  const totals = new Map<string, number>();
  const cmdlines = new Map<string, string | undefined>();
  const sample = (): void => {
    const procs: ProcSample[] = [];
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const p = parseProcStat(readFileSync(`/proc/${name}/stat`, 'utf8'));
        if (p) procs.push(p);
      } catch {
        // gone meanwhile
      }
    }
    const starts = new Map(procs.map((p) => [p.pid, p.start]));
    chargeSample(procs, (pid) => {
      const key = `${pid}@${starts.get(pid)}`;
      if (!cmdlines.has(key)) {
        let cmdline = '';
        try {
          cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
        } catch {
          // gone meanwhile
        }
        cmdlines.set(key, owner(cmdline));
      }
      return cmdlines.get(key);
    }, seen, totals);
    for (const key of cmdlines.keys()) if (!seen.has(key)) cmdlines.delete(key); // gone: its pid may come back as another process
  };
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      return totals;
    },
  };
}
