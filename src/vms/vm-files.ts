// Where a VM's files live in the data folder, and the checks made before anything is created.
import { accessSync, constants, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ArdesiaError } from '../contract/errors.js';
import type { VmSpec } from '../contract/vm.js';
import { regularFileCheck, regularFileHead } from './owner-files.js';
import { isOurQemu, killQuietly, readPidfile } from '../hypervisor/qemu/process.js';
import { BOOT_IMAGE_HEAD_BYTES, classifyBootImage, EFI_VARS_FILE, type RuntimePaths, runtimePaths } from '../hypervisor/qemu/argv.js';

export interface VmFiles {
  runtime: RuntimePaths;
  /** Persistent (survive stop): the serial console log and QEMU's own output. */
  logDir: string;
  consoleLog: string;
}

export function vmFiles(dataDir: string, name: string): VmFiles {
  const runtime = runtimePaths(join(dataDir, 'runtime', name));
  const logDir = join(dataDir, 'logs', name);
  return { runtime: { ...runtime, log: join(logDir, 'qemu.log') }, logDir, consoleLog: join(logDir, 'console.log') };
}

export function prepareVmFolders(files: VmFiles): void {
  removeRuntimeFolder(files); // sockets of a dead QEMU are stale
  mkdirSync(files.runtime.dir, { recursive: true, mode: 0o700 });
  mkdirSync(files.logDir, { recursive: true, mode: 0o700 });
}

/** Removes what belongs to one QEMU run; a UEFI VM's variable store (its NVRAM) is kept. */
export function removeRuntimeFolder(files: VmFiles): void {
  if (!existsSync(files.runtime.dir)) return;
  for (const entry of readdirSync(files.runtime.dir)) {
    if (entry !== EFI_VARS_FILE) rmSync(join(files.runtime.dir, entry), { recursive: true, force: true });
  }
  if (readdirSync(files.runtime.dir).length === 0) rmSync(files.runtime.dir, { recursive: true, force: true });
}

/** Every file the spec names must exist and be readable before QEMU is asked to open it. */
export function checkSpecFiles(spec: VmSpec): void {
  const wanted: Array<[string, string]> = [];
  for (const d of spec.disks) wanted.push(['disk', d.path]);
  if (spec.cdrom) wanted.push(['cdrom', spec.cdrom]);
  if (spec.boot.kernel) wanted.push(['kernel', spec.boot.kernel]);
  if (spec.boot.initrd) wanted.push(['initrd', spec.boot.initrd]);
  if (spec.boot.bios) wanted.push(['bios', spec.boot.bios]);
  for (const [what, path] of wanted) {
    if (!existsSync(path)) throw new ArdesiaError('VM_FILE_MISSING', `vm ${spec.name}: ${what} ${path} does not exist`);
    try {
      accessSync(path, constants.R_OK);
    } catch {
      throw new ArdesiaError('VM_FILE_MISSING', `vm ${spec.name}: ${what} ${path} is not readable by the daemon`);
    }
  }
}

/**
 * vmctl's `-b` takes a kernel or a BIOS image: tell which from the file's first bytes. The files QEMU reads
 * whole (kernel, initrd, BIOS) must be regular files, opened without blocking: a FIFO would hang the daemon.
 */
export async function bootKindOf(spec: VmSpec): Promise<'kernel' | 'bios-image' | undefined> {
  for (const key of ['initrd', 'bios'] as const) {
    const path = spec.boot[key];
    if (path) await regularFileCheck(path, `vm ${spec.name}: ${key}`);
  }
  if (!spec.boot.kernel) return undefined;
  const head = await regularFileHead(spec.boot.kernel, `vm ${spec.name}: kernel`, BOOT_IMAGE_HEAD_BYTES);
  const kind = classifyBootImage(head);
  if (kind === 'bios') return 'bios-image';
  if (kind === 'unknown') {
    throw new ArdesiaError('VM_SPEC_INVALID', `vm ${spec.name}: ${spec.boot.kernel} is neither a Linux kernel (bzImage), an ELF or multiboot kernel, nor a BIOS image`);
  }
  return 'kernel';
}

/** At start-up: a runtime folder of no known VM is an orphan; its QEMU (if ours, by pidfile + QMP path) is killed. */
export function runtimeOrphansKill(dataDir: string, known: ReadonlySet<string>): string[] {
  let entries: string[] = [];
  try {
    entries = readdirSync(join(dataDir, 'runtime'));
  } catch {
    return [];
  }
  const killed: string[] = [];
  for (const name of entries.filter((n) => !known.has(n))) {
    const files = vmFiles(dataDir, name);
    const pid = readPidfile(files.runtime.pidfile);
    if (pid !== undefined && isOurQemu(pid, files.runtime.qmp)) {
      killQuietly(pid);
      killed.push(name);
    }
    removeRuntimeFolder(files);
  }
  return killed;
}
