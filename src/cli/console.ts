// Interactive serial consoles from the terminal: one or several VMs, input to the current one.
import type WebSocket from 'ws';
import { ArdesiaError, isErrorCode } from '../contract/errors.js';
import { type ApiClient, unreachable } from './client.js';
import { EscapeReader } from './escape.js';

export async function attachConsole(api: ApiClient, names: string[], opts: { replayBytes: number }): Promise<void> {
  const many = names.length > 1;
  const consoles = await Promise.all(names.map((name) => openConsole(api, name, opts.replayBytes)));
  const sockets = consoles.map((c) => c.ws);
  let current = 0;
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  process.stderr.write(`[ardesia: attached to ${names.join(', ')}; ~. detaches${many ? ', ~n switches' : ''}]\r\n`);
  if (many) process.stderr.write(`[ardesia: typing goes to ${names[current]}]\r\n`);

  await new Promise<void>((resolve) => {
    let open = sockets.length;
    const finish = () => {
      if (tty) stdin.setRawMode(false);
      stdin.off('data', onInput);
      stdin.destroy(); // a paused pipe would keep the process alive after detaching
      for (const ws of sockets) ws.close();
      resolve();
    };
    consoles.forEach(({ ws, held }, i) => {
      let lineStart = true;
      const onMessage = (data: Buffer) => {
        if (!many) return void process.stdout.write(data);
        // Several consoles: label each line with its VM.
        let text = '';
        for (const ch of data.toString('utf8')) {
          if (lineStart) text += `[${names[i]}] `;
          text += ch;
          lineStart = ch === '\n';
        }
        process.stdout.write(text);
      };
      const onClose = (reason: Buffer) => {
        process.stderr.write(`\r\n[ardesia: console of ${names[i]} closed${reason.length ? `: ${reason.toString()}` : ''}]\r\n`);
        if (--open === 0) finish();
      };
      // What arrived before this point (the replay, while other consoles were still opening) comes first.
      for (const data of held.take()) onMessage(data);
      ws.on('message', onMessage);
      if (held.closedWith) onClose(held.closedWith);
      else ws.on('close', (_code, reason) => onClose(reason));
    });
    const escapes = new EscapeReader();
    const onInput = (chunk: Buffer) => {
      const { forward, actions } = escapes.feed(chunk);
      if (forward.length) sockets[current]?.send(forward);
      for (const a of actions) {
        if (a === 'detach') return finish();
        current = (current + 1) % sockets.length;
        process.stderr.write(`\r\n[ardesia: typing goes to ${names[current]}]\r\n`);
      }
    };
    if (tty) stdin.setRawMode(true);
    stdin.on('data', onInput);
    stdin.on('end', () => setTimeout(finish, 500)); // piped input: let the last answers arrive
    stdin.resume();
  });
}

/** Messages and the close of a console socket from its creation on, until the terminal takes them over. */
export class HeldMessages {
  private messages: Buffer[] = [];
  private holding = true;
  /** The close reason, when the socket closed before the terminal took it over. */
  closedWith: Buffer | undefined;

  constructor(ws: WebSocket) {
    // Listening from the start: the replay can come in the same read as the 101 and be emitted before 'open' resolves.
    ws.on('message', (data: Buffer) => {
      if (this.holding) this.messages.push(data);
    });
    ws.once('close', (_code, reason) => {
      if (this.holding) this.closedWith = reason;
    });
  }

  /** What was held; from now on the caller's own listeners get everything. */
  take(): Buffer[] {
    this.holding = false;
    const all = this.messages;
    this.messages = [];
    return all;
  }
}

export function openConsole(api: ApiClient, name: string, replay: number): Promise<{ ws: WebSocket; held: HeldMessages }> {
  return new Promise((resolve, reject) => {
    const ws = api.webSocket(`/v1/vms/${encodeURIComponent(name)}/console?replay=${replay}`);
    const held = new HeldMessages(ws);
    ws.once('open', () => resolve({ ws, held }));
    ws.once('close', (closeCode, reason) => {
      const text = reason.toString();
      const [code, ...rest] = text.split(' ');
      if (isErrorCode(code)) reject(new ArdesiaError(code, rest.join(' ')));
      else reject(new ArdesiaError('VM_NOT_RUNNING', `console of vm ${name} closed (${closeCode}${text ? `: ${text}` : ''})`));
    });
    ws.once('error', (err) => reject(unreachable(api.endpoint, err)));
  });
}
