// Pure core of the density benchmark: the modes, /proc/PID/smaps_rollup → PSS, when to stop adding desktops, and
// the figures of one mode. The I/O (daemon, pool, QEMU, /proc) is bench/density.ts.

/** Memory the host must keep free: a desktop that leaves less than this does not fit. */
export const DENSITY_RESERVE_BYTES = 1.5 * 1024 ** 3;

/**
 * How desktops are started and shared in one mode. A mode is data: a restored mode (a pool start mode from the
 * snapshot work) adds its pool fields here and the same loop measures it.
 */
export interface DensityMode {
  name: string;
  summary: string;
  /** KSM on the host while the mode runs (`ardesia host ksm`), restored afterwards. */
  ksm: 'on' | 'off';
  /** Pool fields besides name, image, size and spares (e.g. a start mode). */
  poolFields: Record<string, unknown>;
}

export const DENSITY_MODES: readonly DensityMode[] = [
  { name: 'booted', summary: 'each desktop booted from its linked clone, KSM off', ksm: 'off', poolFields: {} },
  { name: 'booted+ksm', summary: 'the same, with KSM on (Ardesia\'s scan rate), measured after ksmd has scanned everything twice', ksm: 'on', poolFields: {} },
  { name: 'restored', summary: 'each desktop a clone restored from the pool\'s template, its RAM the template\'s sealed memfd mapped privately, KSM off', ksm: 'off', poolFields: { startMode: 'restore' } },
  { name: 'restored+ksm', summary: 'the same, with KSM on, measured after ksmd has scanned everything twice', ksm: 'on', poolFields: { startMode: 'restore' } },
];

/** `--max-desktops N` and `--modes a,b` from the bench's argv. */
export function densityArgs(argv: readonly string[], defaults: { maxDesktops: number }): { maxDesktops: number; modes: DensityMode[] } {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i < 0 ? undefined : argv[i + 1];
  };
  const max = value('--max-desktops');
  const maxDesktops = max === undefined ? defaults.maxDesktops : Number(max);
  if (!Number.isInteger(maxDesktops) || maxDesktops < 1 || maxDesktops > 500) throw new Error(`--max-desktops wants a whole number from 1 to 500, not ${max}`);
  const names = value('--modes')?.split(',');
  const modes = names === undefined ? [...DENSITY_MODES] : names.map((n) => {
    const m = DENSITY_MODES.find((d) => d.name === n);
    if (!m) throw new Error(`no density mode ${n}; known: ${DENSITY_MODES.map((d) => d.name).join(', ')}`);
    return m;
  });
  return { maxDesktops, modes };
}

/** Pss of a process in bytes from its /proc/PID/smaps_rollup. */
export function pssBytes(smapsRollup: string): number {
  const m = /^Pss:\s+(\d+) kB$/m.exec(smapsRollup);
  if (!m) throw new Error('no Pss line in smaps_rollup');
  return Number(m[1]) * 1024;
}

/**
 * Pss of the guest's RAM alone, in bytes, from /proc/PID/smaps: QEMU's one mapping exactly the VM's memory size
 * (the rest of a desktop's PSS is QEMU itself: its heap, libraries and, under TCG, the translated-code buffer).
 */
export function guestRamPssBytes(smaps: string, memoryMiB: number): number {
  const mappings = smaps.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/);
  const size = new RegExp(`^Size:\\s+${memoryMiB * 1024} kB$`, 'm');
  const ram = mappings.filter((m) => size.test(m));
  if (ram.length !== 1) throw new Error(`${ram.length} mappings of ${memoryMiB} MiB in smaps, not one: cannot tell the guest's RAM`);
  return pssBytes(ram[0]!);
}

export type DensityStop = { stop: false } | { stop: true; fit: number; why: 'reserve' | 'bound' };

/** After desktop `running` is up: stop when it left less than the reserve free (it did not fit), or at the bound. */
export function densityStep(running: number, memAvailableBytes: number, maxDesktops: number, reserveBytes = DENSITY_RESERVE_BYTES): DensityStop {
  if (memAvailableBytes < reserveBytes) return { stop: true, fit: running - 1, why: 'reserve' };
  if (running >= maxDesktops) return { stop: true, fit: running, why: 'bound' };
  return { stop: false };
}

export interface DensityFigures {
  mode: string;
  fit: number;
  stoppedBy: 'reserve' | 'bound';
  pssPerDesktopMiB: { n: number; median: number; min: number; max: number; mean: number };
  /** Of that, the guest's RAM (the rest is QEMU's own). */
  guestRamPssPerDesktopMiB: { median: number; mean: number };
  /** What would fit in the memory available before the first desktop, at the mean PSS: only a projection when the bound stopped the run. */
  projectedFit: number;
}

const MiB = 1024 * 1024;

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
const meanOf = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** The figures of one mode from each desktop's PSS (whole QEMU, and its guest RAM) and the memory available before the first desktop. */
export function densityFigures(mode: string, stop: Extract<DensityStop, { stop: true }>, pss: readonly number[], ramPss: readonly number[], memAvailableAtStartBytes: number, reserveBytes = DENSITY_RESERVE_BYTES): DensityFigures {
  if (pss.length === 0) throw new Error(`mode ${mode}: no desktop was measured`);
  if (ramPss.length !== pss.length) throw new Error(`mode ${mode}: ${pss.length} desktops measured but ${ramPss.length} guest RAM figures`);
  const mean = meanOf(pss);
  return {
    mode,
    fit: stop.fit,
    stoppedBy: stop.why,
    pssPerDesktopMiB: { n: pss.length, median: medianOf(pss) / MiB, min: Math.min(...pss) / MiB, max: Math.max(...pss) / MiB, mean: mean / MiB },
    guestRamPssPerDesktopMiB: { median: medianOf(ramPss) / MiB, mean: meanOf(ramPss) / MiB },
    projectedFit: Math.max(0, Math.floor((memAvailableAtStartBytes - reserveBytes) / mean)),
  };
}
