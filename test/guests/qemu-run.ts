// A raw QEMU under TCG for the guest tests: started paused, serial on stdio, a minimal QMP
// client on a unix socket; `cont` marks time zero so boot times are measured from there.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export class QemuRunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QemuRunError';
  }
}

interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
}

type Waiter = { test: () => boolean; resolve: () => void };

export class QemuRun {
  serial = '';
  readonly events: QmpEvent[] = [];
  exitCode: number | null | undefined = undefined;
  private contAt = 0;
  private readonly waiters = new Set<Waiter>();
  private qmpBuffer = '';
  private readonly replies: Array<(reply: Record<string, unknown>) => void> = [];
  private stderr = '';

  private constructor(
    private readonly child: ChildProcess,
    private readonly qmp: Socket,
  ) {}

  /** Spawns `binary args… -S -serial stdio -qmp …` in `dir`, negotiates QMP, then `cont`. */
  static async start(binary: string, args: readonly string[], dir: string): Promise<QemuRun> {
    const qmpPath = join(dir, 'qmp.sock');
    const child = spawn(binary, [...args, '-S', '-nodefaults', '-display', 'none', '-serial', 'stdio', '-qmp', `unix:${qmpPath},server=on,wait=off`], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let early = '';
    child.stderr?.on('data', (d: Buffer) => (early += d.toString()));
    const socket = await connectWhenReady(qmpPath, child, () => early);
    const run = new QemuRun(child, socket);
    run.stderr = early;
    run.wire();
    await run.command('qmp_capabilities');
    run.contAt = Date.now();
    await run.command('cont');
    return run;
  }

  private wire(): void {
    this.child.stdout?.on('data', (d: Buffer) => {
      this.serial += d.toString('latin1');
      this.notify();
    });
    this.child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.child.on('exit', (code) => {
      this.exitCode = code;
      this.notify();
    });
    this.qmp.on('data', (d: Buffer) => this.onQmpData(d.toString()));
    this.qmp.on('error', () => undefined);
  }

  private onQmpData(text: string): void {
    this.qmpBuffer += text;
    let newline: number;
    while ((newline = this.qmpBuffer.indexOf('\n')) >= 0) {
      const line = this.qmpBuffer.slice(0, newline).trim();
      this.qmpBuffer = this.qmpBuffer.slice(newline + 1);
      if (!line) continue;
      const message = JSON.parse(line) as Record<string, unknown>;
      if (typeof message.event === 'string') this.events.push(message as unknown as QmpEvent);
      else if ('return' in message || 'error' in message) this.replies.shift()?.(message);
    }
    this.notify();
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) {
      if (waiter.test()) {
        this.waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  /** Resolves when `test` holds; rejects with the serial tail after `timeoutMs` (a failure bound, not a timing assertion). */
  private async until(what: string, test: () => boolean, timeoutMs: number): Promise<void> {
    if (test()) return;
    let waiter: Waiter | undefined;
    const reached = new Promise<void>((resolve) => {
      waiter = { test, resolve };
      this.waiters.add(waiter);
    });
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const outcome = await Promise.race([reached, expired]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      if (waiter) this.waiters.delete(waiter);
      throw new QemuRunError(`no ${what} within ${timeoutMs} ms; serial tail:\n${this.serial.slice(-1500)}\nstderr: ${this.stderr}`);
    }
  }

  async command(execute: string, args?: Record<string, unknown>): Promise<unknown> {
    const reply = new Promise<Record<string, unknown>>((resolve) => this.replies.push(resolve));
    this.qmp.write(`${JSON.stringify(args ? { execute, arguments: args } : { execute })}\n`);
    const message = await reply;
    if ('error' in message) throw new QemuRunError(`QMP ${execute} failed: ${JSON.stringify(message.error)}`);
    return message.return;
  }

  /** Waits for `text` on the serial console after offset `from`; returns ms since `cont`. */
  async waitForSerial(text: string, timeoutMs: number, from = 0): Promise<number> {
    await this.until(`"${text}" on serial`, () => this.serial.indexOf(text, from) >= 0 || this.exitCode !== undefined, timeoutMs);
    if (this.serial.indexOf(text, from) < 0) throw new QemuRunError(`QEMU exited (${this.exitCode}) before "${text}"; serial tail:\n${this.serial.slice(-1500)}\nstderr: ${this.stderr}`);
    return Date.now() - this.contAt;
  }

  /** Types `line` at the console again and again until `expected` appears (the shell may not read yet). */
  async typeUntil(line: string, expected: string, timeoutMs: number): Promise<void> {
    const from = this.serial.length;
    const deadline = Date.now() + timeoutMs;
    while (this.serial.indexOf(expected, from) < 0) {
      if (Date.now() > deadline || this.exitCode !== undefined) throw new QemuRunError(`typing ${JSON.stringify(line)} never printed "${expected}"; serial tail:\n${this.serial.slice(-1500)}`);
      this.type(line);
      await this.until(`"${expected}"`, () => this.serial.indexOf(expected, from) >= 0, 1500).catch(() => undefined);
    }
  }

  type(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  async waitForEvent(name: string, timeoutMs: number): Promise<QmpEvent> {
    await this.until(`QMP event ${name}`, () => this.events.some((e) => e.event === name), timeoutMs);
    return this.events.find((e) => e.event === name) as QmpEvent;
  }

  async waitForExit(timeoutMs: number): Promise<number | null> {
    await this.until('QEMU exit', () => this.exitCode !== undefined, timeoutMs);
    return this.exitCode ?? null;
  }

  /** Ends QEMU if it still runs (after-hooks). */
  async kill(): Promise<void> {
    this.qmp.destroy();
    if (this.exitCode !== undefined) return;
    this.child.kill('SIGKILL');
    await this.until('QEMU exit after SIGKILL', () => this.exitCode !== undefined, 5000).catch(() => undefined);
  }
}

async function connectWhenReady(path: string, child: ChildProcess, stderr: () => string): Promise<Socket> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (child.exitCode !== null) throw new QemuRunError(`QEMU exited at start: ${stderr()}`);
    if (existsSync(path)) {
      const socket = await new Promise<Socket | undefined>((resolve) => {
        const s = connect(path);
        s.once('connect', () => resolve(s));
        s.once('error', () => resolve(undefined));
      });
      if (socket) return socket;
    }
    await delay(25);
  }
  child.kill('SIGKILL');
  throw new QemuRunError(`QMP socket ${path} never accepted a connection: ${stderr()}`);
}
