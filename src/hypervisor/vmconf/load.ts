// The only I/O of the vm.conf reader: reading the files, peeking at image headers, asking the
// kernel whether an interface is a bridge. Everything else is the pure core in parseVmConfText.
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { ArdesiaError } from '../../contract/errors.js';
import { evaluateVmConf } from './evaluate.js';
import { parseVmConf } from './parser.js';
import { parseVmSpecDocument } from './spec-file.js';
import type { VmConfHost, VmConfParseOptions, VmConfResult } from './types.js';

/** Enough of a file to see a qcow2 magic, an ELF header, a bzImage setup header or a multiboot header. */
const PROBE_BYTES = 8192;

/** Parses vm.conf text (plus its includes, through opts.readFile) into validated VmSpecs. */
export function parseVmConfText(text: string, opts: VmConfParseOptions): VmConfResult {
  const ast = parseVmConf(text, { path: opts.path, readFile: opts.readFile });
  return evaluateVmConf(ast, opts);
}

export type SpecFileKind = 'vmconf' | 'yaml' | 'json';

export function specFileKind(path: string): SpecFileKind {
  if (/\.ya?ml$/i.test(path)) return 'yaml';
  if (/\.json$/i.test(path)) return 'json';
  return 'vmconf';
}

export interface VmConfFs extends VmConfHost {
  readFile: (absPath: string) => string;
}

/** Picks the reader by extension; the file system is passed in so the choice is testable. */
export function loadVmConfWith(path: string, fs: VmConfFs): VmConfResult {
  let text: string;
  try {
    text = fs.readFile(path);
  } catch (err) {
    throw new ArdesiaError('VMCONF_PARSE', `${path}: cannot read the file: ${err instanceof Error ? err.message : String(err)}`, { file: path });
  }
  const kind = specFileKind(path);
  if (kind === 'vmconf') return parseVmConfText(text, { ...fs, path });
  return parseVmSpecDocument(text, { path, format: kind });
}

function probeFile(absPath: string): Uint8Array | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(absPath, 'r');
    const buf = new Uint8Array(PROBE_BYTES);
    const n = readSync(fd, buf, 0, PROBE_BYTES, 0);
    return buf.subarray(0, n);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function interfaceKind(ifname: string): 'bridge' | 'other' | 'missing' {
  if (!existsSync(`/sys/class/net/${ifname}`)) return 'missing';
  return existsSync(`/sys/class/net/${ifname}/bridge`) ? 'bridge' : 'other';
}

export const realVmConfFs: VmConfFs = {
  readFile: (absPath) => readFileSync(absPath, 'utf8'),
  probeFile,
  interfaceKind,
};

/** Reads a vm.conf, or a .yaml/.yml/.json spec file, from the real file system. */
export function loadVmConfFile(path: string): VmConfResult {
  return loadVmConfWith(path, realVmConfFs);
}
