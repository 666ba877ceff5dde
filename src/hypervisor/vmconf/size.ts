// Memory sizes as vm.conf writes them: bytes unless scaled (scan_scaled(3): K, M, G, T, P, E, ×1024).
import { MAX_MEMORY_MIB, MIN_MEMORY_MIB } from '../../contract/vm.js';
import { vmconfParseError, type SourcePos } from './errors.js';

const MIB = 1024 * 1024;
const SCALE: Record<string, number> = { B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40, P: 2 ** 50, E: 2 ** 60 };

/** Bytes of "512M", "1.5G", "1073741824"; undefined when the text is not a scaled number. */
export function parseScaledBytes(text: string): number | undefined {
  const m = /^(\d+)(?:\.(\d+))?([BKMGTPE])?$/i.exec(text);
  if (!m) return undefined;
  const unit = SCALE[(m[3] ?? 'B').toUpperCase()]!;
  if (m[2] !== undefined && unit === 1) return undefined; // a fraction of a byte is not a size
  return Number(`${m[1]}.${m[2] ?? '0'}`) * unit;
}

export interface MemorySize {
  mib: number;
  /** Set when the byte count was not whole MiB and was rounded down (as vmd does). */
  roundedFrom?: number;
}

/** vm.conf `memory`: bytes rounded down to MiB, within Ardesia's limits. */
export function memoryFromVmConf(text: string, pos: SourcePos): MemorySize {
  const bytes = parseScaledBytes(text);
  if (bytes === undefined) {
    throw vmconfParseError(pos, `memory "${text}" is not a size; write bytes or a number with K, M, G or T (for example 512M or 2G)`);
  }
  const mib = Math.floor(bytes / MIB);
  if (mib < MIN_MEMORY_MIB) {
    const unitHint = /^\d+$/.test(text) ? ` (a number without a unit counts bytes in vm.conf; did you mean ${text}M?)` : '';
    throw vmconfParseError(pos, `memory ${text} is ${bytes === 0 ? 'zero' : `${mib} MiB`}, below the minimum of ${MIN_MEMORY_MIB} MiB${unitHint}`);
  }
  if (mib > MAX_MEMORY_MIB) {
    throw vmconfParseError(pos, `memory ${text} is ${mib} MiB, above the maximum of ${MAX_MEMORY_MIB} MiB (1 TiB)`);
  }
  return bytes === mib * MIB ? { mib } : { mib, roundedFrom: bytes };
}

/** A whole number within [min, max], or a positioned error naming the option. */
export function integerOption(text: string, option: string, min: number, max: number, pos: SourcePos): number {
  if (!/^-?\d+$/.test(text)) throw vmconfParseError(pos, `${option} needs a whole number, found "${text}"`);
  const value = Number(text);
  if (value < min || value > max) throw vmconfParseError(pos, `${option} ${text} is out of range (${min}-${max})`);
  return value;
}
