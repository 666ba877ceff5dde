// Kernel same-page merging (KSM), pure: /sys/kernel/mm/ksm values → the report, and what each mode writes there.
// QEMU marks guest RAM mergeable itself (-machine mem-merge=on is its default), so KSM needs only ksmd running.
import type { KsmMode, KsmReport } from '../../contract/hosts.js';

export const KSM_SYSFS_DIR = '/sys/kernel/mm/ksm';

/** The files the report reads (general_profit is absent on older kernels such as Debian 12's 6.1: read as null). */
export const KSM_FILES = ['run', 'pages_sharing', 'pages_shared', 'pages_unshared', 'full_scans', 'general_profit', 'pages_to_scan', 'sleep_millisecs'] as const;
export type KsmFile = (typeof KSM_FILES)[number];

/**
 * Scan rate when turned on: 1000 pages every 50 ms = 20,000 pages/s (78 MiB/s with 4 KiB pages), so 16 GiB of
 * desktops is scanned in about 3.5 minutes at a few percent of one core. The kernel's default (100 pages / 20 ms)
 * needs 14 minutes for that; ksmtuned's ceiling is 1250 pages. Idle desktops' shared pages (kernel, libraries,
 * zeroed memory) change slowly, so a faster scan would spend CPU the desktops need for little more merging.
 */
export const KSM_ON_PAGES_TO_SCAN = 1000;
export const KSM_ON_SLEEP_MILLISECS = 50;

const RUN_MODES: Record<string, KsmMode> = { '0': 'off', '1': 'on', '2': 'unmerge' };

function count(text: string | undefined): number | null {
  if (text === undefined) return null;
  const t = text.trim();
  return /^\d+$/.test(t) ? Number(t) : null;
}

/** Pure: the report from the files' texts (undefined = the file does not exist); `present` = the folder exists. */
export function ksmReportOf(files: Partial<Record<KsmFile, string>>, pageSizeBytes: number, present: boolean): KsmReport {
  const run = files.run?.trim();
  const mode = present && run !== undefined ? (RUN_MODES[run] ?? null) : null;
  const pagesSharing = count(files.pages_sharing) ?? 0;
  const profit = files.general_profit?.trim();
  return {
    available: present,
    mode,
    enabled: mode === 'on',
    pageSizeBytes,
    savedBytes: pagesSharing * pageSizeBytes,
    pagesSharing,
    pagesShared: count(files.pages_shared) ?? 0,
    pagesUnshared: count(files.pages_unshared) ?? 0,
    fullScans: count(files.full_scans) ?? 0,
    // general_profit is signed: KSM's rmap bookkeeping can cost more than a few merges save.
    generalProfitBytes: profit !== undefined && /^-?\d+$/.test(profit) ? Number(profit) : null,
    pagesToScan: count(files.pages_to_scan),
    sleepMillisecs: count(files.sleep_millisecs),
  };
}

/** Pure: the sysfs writes for a mode, in order (the scan rate before run=1, so ksmd starts at that rate). */
export function ksmWrites(mode: KsmMode): Array<[KsmFile, string]> {
  switch (mode) {
    case 'on':
      return [['pages_to_scan', String(KSM_ON_PAGES_TO_SCAN)], ['sleep_millisecs', String(KSM_ON_SLEEP_MILLISECS)], ['run', '1']];
    case 'off':
      return [['run', '0']];
    case 'unmerge':
      return [['run', '2']];
  }
}

/**
 * Pure: why an unmerge is refused, or null. run=2 copies every merged page back at once: memory use grows by
 * savedBytes in seconds, so it is allowed only while that much memory is available, plus a reserve.
 */
export function ksmUnmergeRefusal(report: KsmReport, memAvailableBytes: number, reserveBytes: number): string | null {
  const needed = report.savedBytes + reserveBytes;
  if (needed <= memAvailableBytes) return null;
  const mib = (b: number) => Math.ceil(b / 1024 / 1024);
  return `unmerging would need ${mib(report.savedBytes)} MiB back at once (plus a ${mib(reserveBytes)} MiB reserve), and only ${mib(memAvailableBytes)} MiB is available`;
}

/** Pure: MemAvailable from /proc/meminfo, in bytes (null when the line is missing). */
export function memAvailableBytes(meminfo: string): number | null {
  const m = /^MemAvailable:\s+(\d+)\s+kB$/m.exec(meminfo);
  return m ? Number(m[1]) * 1024 : null;
}
