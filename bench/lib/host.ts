// What the benchmarks read from the host: process memory, process liveness, and the machine facts
// every published figure must carry (CPU, cores, RAM, kernel, QEMU, accelerator, load).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { median } from './stats.js';

/** Parses VmRSS (kB) out of /proc/PID/status text; undefined when the process has no RSS line. */
export function parseVmRssKiB(statusText: string): number | undefined {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(statusText);
  return match ? Number(match[1]) : undefined;
}

export function rssMiB(pid: number): number {
  const kib = parseVmRssKiB(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (kib === undefined) throw new Error(`process ${pid} has no VmRSS (exited or a zombie)`);
  return kib / 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Median of `samples` RSS readings spread over `spanMs`: one reading catches GC mid-flight. */
export async function settledRssMiB(pid: number, samples = 5, spanMs = 2000): Promise<{ medianMiB: number; samplesMiB: number[] }> {
  const samplesMiB: number[] = [];
  for (let i = 0; i < samples; i++) {
    samplesMiB.push(rssMiB(pid));
    if (i < samples - 1) await sleep(spanMs / (samples - 1));
  }
  return { medianMiB: median(samplesMiB), samplesMiB };
}

/**
 * Repeats settledRssMiB until two readings in a row agree within toleranceMiB (V8 returns start-up
 * garbage to the OS seconds later, not at once), or maxMs passes; returns the last reading.
 */
export async function stableRssMiB(pid: number, toleranceMiB = 0.5, maxMs = 30_000): Promise<{ medianMiB: number; samplesMiB: number[]; readings: number[] }> {
  const deadline = Date.now() + maxMs;
  const readings: number[] = [];
  let last = await settledRssMiB(pid);
  readings.push(last.medianMiB);
  for (;;) {
    const next = await settledRssMiB(pid);
    readings.push(next.medianMiB);
    const stable = Math.abs(next.medianMiB - last.medianMiB) <= toleranceMiB;
    last = next;
    if (stable || Date.now() > deadline) return { ...last, readings };
  }
}

export function isAlive(pid: number): boolean {
  if (!existsSync(`/proc/${pid}/stat`)) return false;
  const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
  return state !== 'Z';
}

export async function waitGone(pid: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} still runs after ${timeoutMs} ms`);
    await sleep(20);
  }
}

export interface MachineFacts {
  cpuModel: string;
  cores: number;
  ramGiB: number;
  kernel: string;
  qemu: string;
  node: string;
  loadAverage1m: number;
}

export function parseCpuModel(cpuinfo: string): string {
  return /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
}

export function machineFacts(): MachineFacts {
  const qemu = execFileSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).split('\n')[0] ?? 'unknown';
  return {
    cpuModel: parseCpuModel(readFileSync('/proc/cpuinfo', 'utf8')),
    cores: cpus().length,
    ramGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    qemu: qemu.replace(/^QEMU emulator version /, ''),
    node: process.version,
    loadAverage1m: loadavg()[0] ?? 0,
  };
}
