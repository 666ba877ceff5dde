// The parsers of every numeric and enum command-line flag: each turns the text into its type once, at
// the edge, or refuses it with what is accepted (commander then exits 1 naming the flag and the value).
import { InvalidArgumentError, Option } from 'commander';
import { parseSize } from '../lib/size.js';
import { isTimeZone } from '../lib/local-time.js';

/** What commander calls with the flag's text; throws InvalidArgumentError saying what is accepted. */
export type OptionParser<T> = (text: string) => T;

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** commander prints "option '--x <n>' argument 'abc' is invalid." before this. */
const refuse = (accepted: string): InvalidArgumentError => new InvalidArgumentError(`Accepted: ${accepted}.`);

/**
 * A flag with its parser; a default is written as the user would type it, shown so in --help and
 * parsed by the same parser (commander never parses defaults itself).
 */
export function flag<T>(flags: string, description: string, parse: OptionParser<T>, defaultText?: string): Option {
  const option = new Option(flags, description).argParser(parse);
  return defaultText === undefined ? option : option.default(parse(defaultText), defaultText);
}

/** A whole number written in decimal digits only ("1e3", "0x10", " 5", "" and "3.0" are refused). */
export function wholeNumber(min: number, max = MAX_SAFE): OptionParser<number> {
  const accepted = max === MAX_SAFE ? `a whole number, ${min} or more` : `a whole number from ${min} to ${max}`;
  return (text) => {
    const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw refuse(accepted);
    return n;
  };
}

/** A ratio like 1, 1.5 or 16 (plain decimal), from `min` to `max`. */
export function ratio(min: number, max: number): OptionParser<number> {
  return (text) => {
    const n = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
    if (!(n >= min && n <= max)) throw refuse(`a decimal number from ${min} to ${max}, like 1.5`);
    return n;
  };
}

/** A count of one or more, up to `max`. */
export const positiveInt = (max = MAX_SAFE): OptionParser<number> => wholeNumber(1, max);
/** A count of zero or more, up to `max`. */
export const nonNegativeInt = (max = MAX_SAFE): OptionParser<number> => wholeNumber(0, max);

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A duration in milliseconds from "90" (in `bareUnit`), "90s", "1500ms", "5m" or "2h";
 * refused outside min..max (both in milliseconds).
 */
export function duration(opts: { bareUnit: 's' | 'm' | 'ms'; minMs: number; maxMs: number }): OptionParser<number> {
  const show = (ms: number): string => (ms === 0 ? '0' : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
  const accepted = `a duration from ${show(opts.minMs)} to ${show(opts.maxMs)}: a whole number of ${{ s: 'seconds', m: 'minutes', ms: 'milliseconds' }[opts.bareUnit]}, or with a unit (ms, s, m, h) like 90s or 5m`;
  return (text) => {
    const m = /^(\d+)(ms|s|m|h)?$/.exec(text);
    const ms = m ? Number(m[1]) * DURATION_UNITS_MS[m[2] ?? opts.bareUnit]! : Number.NaN;
    if (!Number.isSafeInteger(ms) || ms < opts.minMs || ms > opts.maxMs) throw refuse(accepted);
    return ms;
  };
}

/** A size in bytes, "512M", "2G", "1048576" (K, M, G, T are powers of 1024); refused outside min..max bytes. */
export function size(opts: { minBytes: number; maxBytes: number }): OptionParser<number> {
  const show = (b: number): string => (b % 2 ** 40 === 0 ? `${b / 2 ** 40}T` : b % 2 ** 30 === 0 ? `${b / 2 ** 30}G` : b % 2 ** 20 === 0 ? `${b / 2 ** 20}M` : b % 1024 === 0 ? `${b / 1024}K` : `${b}`);
  const accepted = `a size from ${show(opts.minBytes)} to ${show(opts.maxBytes)}, like 512M or 2G (K, M, G, T: powers of 1024)`;
  return (text) => {
    const bytes = parseSize(text, 'B');
    if (bytes === undefined || bytes < opts.minBytes || bytes > opts.maxBytes) throw refuse(accepted);
    return bytes;
  };
}

/** One of a fixed set of words (case as written). */
export function oneOf<const T extends string>(values: readonly T[]): OptionParser<T> {
  return (text) => {
    if (!(values as readonly string[]).includes(text)) throw refuse(`one of ${values.join(', ')}`);
    return text as T;
  };
}

/** An image version number, or `latest` (follows the current version). */
export function versionOrLatest(text: string): number | 'latest' {
  if (text === 'latest') return 'latest';
  try {
    return positiveInt()(text);
  } catch {
    throw refuse('a version number (1 or more) or latest');
  }
}

/** ADDR:PORT to listen on ("127.0.0.1:8080", "[::1]:0"); the text is kept, checked here once. */
export const listenAddress: OptionParser<string> = (text) => {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(text);
  if (!m || Number(m[3]) > 65535) throw refuse('ADDR:PORT, like 127.0.0.1:8080 or [::1]:8080 (port 0 to 65535)');
  return text;
};

/** A comma-separated list; empty items are dropped ("" is the empty list). */
export const commaList: OptionParser<string[]> = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export const ARCHES = ['amd64', 'i386'] as const;
export const MiB = 2 ** 20;
export const GiB = 2 ** 30;
export const TiB = 2 ** 40;

/** An IANA time zone name Intl knows, like Europe/Paris or UTC. */
export function timeZoneFlag(text: string): string {
  if (!isTimeZone(text)) throw refuse('an IANA time zone name, like Europe/Paris, America/New_York or UTC');
  return text;
}
