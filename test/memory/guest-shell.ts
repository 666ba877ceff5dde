// The test guest's root shell on its serial console, over the daemon's console WebSocket: type a line, wait for
// a marker the shell computes (so the echo of the typed line never matches it).
import type WebSocket from 'ws';
import type { TestDaemon } from '../helpers/daemon.js';
import { until } from '../helpers/daemon.js';

export class GuestShell {
  private seen = '';
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => (this.seen += d.toString('latin1')));
  }

  static async open(daemon: TestDaemon, vm: string): Promise<GuestShell> {
    const ws = daemon.api().webSocket(`/v1/vms/${vm}/console`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new GuestShell(ws);
  }

  /** Runs `command` then prints `<tag>-DONE` via arithmetic; resolves with what the console showed meanwhile. */
  async run(command: string, tag: string, timeoutMs = 120_000): Promise<string> {
    const from = this.seen.length;
    const marker = `${tag}-DONE-2`;
    this.ws.send(`${command}; echo ${tag}-DONE-$((1+1))\n`);
    await until(`${tag} in the guest`, () => this.seen.slice(from).includes(marker), timeoutMs, 250);
    return this.seen.slice(from);
  }

  close(): void {
    this.ws.close();
  }
}
