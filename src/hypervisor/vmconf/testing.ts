// Helpers for the vmconf table tests: an in-memory file system and error assertions.
import assert from 'node:assert/strict';
import { ArdesiaError } from '../../contract/errors.js';
import { parseVmConfText } from './load.js';
import type { VmConfHost, VmConfResult } from './types.js';

export const CONF_PATH = '/etc/vm.conf';

/** parseVmConfText over a map of absolute path → text (the top file is CONF_PATH). */
export function parseWith(text: string, files: Record<string, string> = {}, host: VmConfHost = {}): VmConfResult {
  return parseVmConfText(text, {
    path: CONF_PATH,
    readFile: (abs) => {
      const found = files[abs];
      if (found === undefined) throw new Error(`ENOENT: no such file ${abs}`);
      return found;
    },
    ...host,
  });
}

export interface ExpectedError {
  code: 'VMCONF_PARSE' | 'VMCONF_UNSUPPORTED';
  line: number;
  col: number;
  /** A piece of the message that says what is wrong. */
  says: string | RegExp;
  file?: string;
}

/** Asserts that run() throws the VMCONF error at file:line:col and that the message says why. */
export function assertVmConfError(run: () => unknown, want: ExpectedError): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof ArdesiaError, `not an ArdesiaError: ${String(err)}`);
    assert.equal(err.code, want.code, err.message);
    assert.ok(err.message.startsWith(`${want.file ?? CONF_PATH}:${want.line}:${want.col}: `), `wrong place: ${err.message}`);
    if (typeof want.says === 'string') assert.ok(err.message.includes(want.says), `message lacks "${want.says}": ${err.message}`);
    else assert.match(err.message, want.says);
    return true;
  });
}
