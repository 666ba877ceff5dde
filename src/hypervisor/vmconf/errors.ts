// Positioned errors of the vm.conf reader: every one names file, line and column.
import { ArdesiaError } from '../../contract/errors.js';

/** A place in a vm.conf file; line and col start at 1. */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

export function formatPos(pos: SourcePos): string {
  return `${pos.file}:${pos.line}:${pos.col}`;
}

/** A syntax or meaning error in the file (VMCONF_PARSE). */
export function vmconfParseError(pos: SourcePos, message: string): ArdesiaError {
  return new ArdesiaError('VMCONF_PARSE', `${formatPos(pos)}: ${message}`, {
    file: pos.file,
    line: pos.line,
    column: pos.col,
  });
}

/** A valid vm.conf option that Ardesia cannot apply on Linux (VMCONF_UNSUPPORTED). */
export function vmconfUnsupported(pos: SourcePos, option: string, why: string): ArdesiaError {
  return new ArdesiaError('VMCONF_UNSUPPORTED', `${formatPos(pos)}: "${option}" is not supported: ${why}`, {
    file: pos.file,
    line: pos.line,
    column: pos.col,
    option,
  });
}
