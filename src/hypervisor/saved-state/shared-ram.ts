// A restore template's RAM shared by its clones (Kata Containers' VM templating): the template runs on a memfd
// mapped shared and is saved with migration's `x-ignore-shared`, so its state file holds only the devices; each
// clone maps the same memfd privately (copy-on-write) and loads that small state. The memfd is held by
// native/ram-hold.c and sealed against writes and truncation once the template has quit: a clone's QEMU can
// neither change the memory other clones read nor truncate it under them (SIGBUS). Measured: clone spawn →
// answering 0.13 s vs 0.26 s for a full-RAM restore, ~54 MiB PSS per clone vs 182 (qemu-field-notes.md).
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { ArdesiaError } from '../../contract/errors.js';
import { runAsText, unprivilegedAccount } from '../../lib/unprivileged-account.js';
import { renderOption } from '../qemu/qemu-options.js';

export const RAM_HOLD_PATH = join(import.meta.dirname, '..', '..', '..', '..', '.cache', 'native', 'ram-hold');
/** The memory backend's id: the template's and every clone's must match ("Unknown ramblock" otherwise). */
export const SHARED_RAM_ID = 'ram0';
/** The migration capability that leaves shared RAM out of the state, set on both sides. */
export const IGNORE_SHARED = 'x-ignore-shared';
const COPY_BLOCK = 1 << 20;
const SEAL_WAIT_MS = 30_000;
const SEAL_RETRY_MS = 100;

/**
 * Pure: the launch's argv with guest RAM from the file QEMU opens at `memPath` (`/proc/self/fd/K`): shared for
 * the template (its writes land in the memfd), private for a clone (its writes stay its own).
 */
export function withSharedRam(args: readonly string[], ram: { memPath: string; memoryMiB: number; share: boolean }): string[] {
  const at = args.indexOf('-machine');
  if (at < 0 || args[at + 1] === undefined) throw new ArdesiaError('INTERNAL', 'a launch without -machine cannot take a memory backend');
  const out = [...args];
  out[at + 1] = `${args[at + 1]},memory-backend=${SHARED_RAM_ID}`;
  out.splice(at, 0, '-object', renderOption('memory-backend-file', { id: SHARED_RAM_ID, size: `${ram.memoryMiB}M`, 'mem-path': ram.memPath, share: ram.share }));
  return out;
}

/** Pure: the launch's argv without the shared-RAM object and machine option (what a clone is compared in). */
export function withoutSharedRam(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '-object' && args[i + 1]?.startsWith(`memory-backend-file,id=${SHARED_RAM_ID},`)) {
      i++;
      continue;
    }
    out.push(args[i - 1] === '-machine' ? args[i]!.replace(`,memory-backend=${SHARED_RAM_ID}`, '') : args[i]!);
  }
  return out;
}

/** Pure: what a running QEMU's argv says of its RAM: a restore template being built (shared), a template's clone
 *  (private), or neither. Read from /proc/PID/cmdline when a QEMU is found again after a restart. */
export function sharedRamRole(args: readonly string[]): 'template' | 'clone' | undefined {
  for (let i = 0; i < args.length - 1; i++) {
    if (args[i] !== '-object' || !args[i + 1]!.startsWith(`memory-backend-file,id=${SHARED_RAM_ID},`)) continue;
    return /,share=on(,|$)/.test(args[i + 1]!) ? 'template' : 'clone';
  }
  return undefined;
}

/** One held memfd: the daemon hands `procPath` to QEMU; closing the holder drops it once no clone maps it. */
export class RamHold {
  private constructor(
    private readonly child: ChildProcess,
    private readonly lines: AsyncIterator<string>,
    /** The memfd as the daemon (root) opens it: /proc/HOLDER/fd/N. */
    readonly procPath: string,
    readonly bytes: number,
  ) {}

  /** An empty memfd of `bytes` for a template to fill (unsealed until seal()). */
  static create(bytes: number): Promise<RamHold> {
    return RamHold.spawn(['new', String(bytes)], bytes);
  }

  /** A sealed memfd filled from a template's saved RAM file. */
  static load(file: string, bytes: number): Promise<RamHold> {
    return RamHold.spawn(['load', file], bytes);
  }

  /** The memfd `path` names (a clone's QEMU's /proc/PID/fd/K), held again if it is `bytes` long and sealed; its bytes
   *  are not checked here (sha256()). */
  static adopt(path: string, bytes: number): Promise<RamHold> {
    return RamHold.spawn(['adopt', path, String(bytes)], bytes);
  }

  private static async spawn(args: string[], bytes: number): Promise<RamHold> {
    const account = unprivilegedAccount();
    if (!existsSync(RAM_HOLD_PATH)) throw new ArdesiaError('VM_START_FAILED', `${RAM_HOLD_PATH} is missing (run \`node scripts/setup.mjs\` to build it from native/ram-hold.c)`);
    const child = spawn(RAM_HOLD_PATH, args, { stdio: ['pipe', 'pipe', 'inherit'], env: account ? { ARDESIA_RUN_AS: runAsText(account) } : {} });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const first = await lines.next();
    const fd = first.done ? undefined : /^fd (\d+)$/.exec(first.value)?.[1];
    if (fd === undefined || child.pid === undefined) {
      child.kill();
      throw new ArdesiaError('VM_STATE_RESTORE_FAILED', `the template's RAM could not be held: ${first.done ? 'ram-hold exited' : first.value}`);
    }
    child.unref();
    return new RamHold(child, lines, `/proc/${child.pid}/fd/${fd}`, bytes);
  }

  /**
   * Seals the memfd against writes. The kernel refuses (EBUSY) while a shared writable mapping exists: the template
   * QEMU's address space can outlive the moment it is seen gone by a little, so a busy answer is asked again.
   */
  async seal(): Promise<void> {
    const until = Date.now() + SEAL_WAIT_MS;
    for (;;) {
      this.child.stdin!.write('seal\n');
      const reply = await this.lines.next();
      if (!reply.done && reply.value === 'sealed') return;
      const busy = !reply.done && reply.value.includes('Device or resource busy');
      if (!busy || Date.now() >= until) throw new ArdesiaError('VM_STATE_SAVE_FAILED', `the template's RAM could not be sealed: ${reply.done ? 'ram-hold exited' : reply.value}`);
      await new Promise((resolve) => setTimeout(resolve, SEAL_RETRY_MS));
    }
  }

  /** Writes the memfd to `file` (all-zero blocks left as holes) and returns its sha256 over every byte. */
  async saveTo(file: string): Promise<string> {
    const zero = Buffer.alloc(COPY_BLOCK);
    const to = await open(file, 'wx', 0o400);
    try {
      const sha256 = await this.eachBlock(async (chunk, at) => {
        if (!chunk.equals(zero.subarray(0, chunk.length))) await to.write(chunk, 0, chunk.length, at);
      });
      await to.truncate(this.bytes);
      await to.sync();
      return sha256;
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    } finally {
      await to.close();
    }
  }

  /** The sha256 over every byte of the memfd. */
  sha256(): Promise<string> {
    return this.eachBlock(async () => undefined);
  }

  /** Reads the memfd block by block, handing each to `use`; returns the sha256 over every byte. */
  private async eachBlock(use: (chunk: Buffer, at: number) => Promise<void>): Promise<string> {
    const hash = createHash('sha256');
    const from = await open(this.procPath, 'r');
    try {
      const buf = Buffer.alloc(COPY_BLOCK);
      for (let at = 0; at < this.bytes;) {
        const { bytesRead } = await from.read(buf, 0, COPY_BLOCK, at);
        if (bytesRead === 0) throw new ArdesiaError('VM_STATE_SAVE_FAILED', `the template's RAM ended at ${at} of ${this.bytes} bytes`);
        const chunk = buf.subarray(0, bytesRead);
        hash.update(chunk);
        await use(chunk, at);
        at += bytesRead;
      }
      return hash.digest('hex');
    } finally {
      await from.close();
    }
  }

  close(): void {
    this.child.stdin!.end();
  }
}
