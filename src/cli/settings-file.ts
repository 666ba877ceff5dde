// A settings file the CLI sends to the daemon as it is (YAML or JSON by its name); the daemon checks its content.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ArdesiaError, type ErrorCode } from '../contract/errors.js';

/** The file's content, or `code` naming the file and why it could not be read or parsed. */
export async function settingsFileRead(file: string, code: ErrorCode): Promise<unknown> {
  try {
    const text = readFileSync(resolve(file), 'utf8');
    // yaml is loaded only here: every other command starts without it.
    return file.endsWith('.json') ? JSON.parse(text) : (await import('yaml')).parse(text);
  } catch (err) {
    throw new ArdesiaError(code, `${file}: ${(err as Error).message}`);
  }
}
