// Facts about the installed QEMU binary: its version and the folders it loads firmware from.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_QEMU_BINARY = 'qemu-system-x86_64';
/** The Debian package that ships qemu-system-x86_64 (named in the "QEMU missing" message). */
export const QEMU_DEBIAN_PACKAGE = 'qemu-system-x86';
const QUERY_TIMEOUT_MS = 10_000;

export class QemuMissingError extends Error {
  constructor(readonly binary: string) {
    super(`${binary} was not found; install the Debian package ${QEMU_DEBIAN_PACKAGE} (apt-get install ${QEMU_DEBIAN_PACKAGE})`);
    this.name = 'QemuMissingError';
  }
}

function run(binary: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(binary, args, { timeout: QUERY_TIMEOUT_MS }, (err, stdout) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') reject(new QemuMissingError(binary));
      else if (err) reject(err);
      else resolve(stdout);
    });
  });
}

/** "QEMU emulator version 7.2.22 (Debian …)" → "7.2.22 (Debian …)". */
export function parseQemuVersion(text: string): string | null {
  const match = /QEMU emulator version\s+(.+)/.exec(text);
  return match ? match[1]!.trim() : null;
}

export async function qemuVersion(binary: string): Promise<string | null> {
  return parseQemuVersion(await run(binary, ['--version']));
}

/** The firmware search path, as `qemu -L help` prints it (one folder a line). */
export async function qemuDataDirs(binary: string): Promise<string[]> {
  const text = await run(binary, ['-L', 'help']).catch(() => '');
  return text.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('/'));
}

/** Full path of a firmware file QEMU would find, or null. */
export async function findQemuFirmware(binary: string, file: string): Promise<string | null> {
  for (const dir of await qemuDataDirs(binary)) {
    if (existsSync(join(dir, file))) return join(dir, file);
  }
  return null;
}
