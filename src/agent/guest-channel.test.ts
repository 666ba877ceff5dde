import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import {
  redialDelayMs,
  GuestChannel,
  GuestChannelClosedError,
  GuestChannelTimeoutError,
  GuestProtocolError,
  LineDecoder,
  MAX_LINE_BYTES,
  encodeHostMessage,
  parseGuestLine,
} from './guest-channel.js';
import type { GuestToHostMessage } from '../contract/guest.js';

/** A socket stand-in: records writes, delivers guest bytes one at a time. */
class FakeSocket extends EventEmitter {
  readonly written: string[] = [];
  destroyed = false;
  write(data: string): boolean {
    this.written.push(data);
    return true;
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
  deliverBytewise(text: string): void {
    for (const byte of Buffer.from(text)) this.emit('data', Buffer.from([byte]));
  }
}

function fakeChannel(): { channel: GuestChannel; sockets: FakeSocket[] } {
  const sockets: FakeSocket[] = [];
  const channel = new GuestChannel('/nowhere', {
    reconnectDelayMs: 1,
    connectSocket: () => {
      const socket = new FakeSocket();
      sockets.push(socket);
      return socket as unknown as Socket;
    },
  });
  return { channel, sockets };
}

const until = async (test: () => boolean): Promise<void> => {
  for (let i = 0; i < 500 && !test(); i++) await new Promise((r) => setTimeout(r, 2));
  assert.ok(test(), 'condition never held');
};

describe('LineDecoder', () => {
  const cases: Array<{ name: string; chunks: Buffer[]; lines: string[] }> = [
    { name: 'one line whole', chunks: [Buffer.from('{"a":1}\n')], lines: ['{"a":1}'] },
    { name: 'two lines in one chunk', chunks: [Buffer.from('x\ny\n')], lines: ['x', 'y'] },
    { name: 'CRLF endings', chunks: [Buffer.from('x\r\n')], lines: ['x'] },
    { name: 'incomplete tail kept', chunks: [Buffer.from('x\ny')], lines: ['x'] },
    { name: 'UTF-8 split mid-character', chunks: [Buffer.from([0xc3]), Buffer.from([0xa9, 0x0a])], lines: ['é'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const decoder = new LineDecoder();
      const lines = c.chunks.flatMap((chunk) => decoder.push(chunk).lines);
      assert.deepEqual(lines, c.lines);
    });
  }

  it('gives the same lines for every one-byte split', () => {
    const text = '{"type":"ready","version":"1"}\n{"type":"pong"}\n';
    const decoder = new LineDecoder();
    const lines = [...Buffer.from(text)].flatMap((b) => decoder.push(Buffer.from([b])).lines);
    assert.deepEqual(lines, ['{"type":"ready","version":"1"}', '{"type":"pong"}']);
  });

  it('drops an over-long line and resumes at the next newline', () => {
    const decoder = new LineDecoder();
    const first = decoder.push(Buffer.alloc(MAX_LINE_BYTES + 10, 'a'));
    assert.equal(first.dropped, 1);
    assert.deepEqual(decoder.push(Buffer.from('aaa\n{"type":"pong"}\n')).lines, ['{"type":"pong"}']);
  });
});

describe('parseGuestLine', () => {
  const good: Array<[string, GuestToHostMessage]> = [
    ['{"type":"ready","version":"1"}', { type: 'ready', version: '1' }],
    ['{"type":"session-started","user":"alice"}', { type: 'session-started', user: 'alice' }],
    ['{"type":"session-ended","user":"alice","reason":"reboot"}', { type: 'session-ended', user: 'alice', reason: 'reboot' }],
    ['{"type":"pong"}', { type: 'pong' }],
    ['{"type":"pong","user":"bob"}', { type: 'pong', user: 'bob' }],
    ['{"type":"error","message":"no disk with serial x"}', { type: 'error', message: 'no disk with serial x' }],
  ];
  for (const [line, message] of good) it(`accepts ${line}`, () => assert.deepEqual(parseGuestLine(line), message));

  const bad = ['not json', '{"type":"assign","user":"a","uid":1001,"homeSerial":"h"}', '{"type":"session-ended","user":"alice","reason":"crash"}', '{"type":"session-started","user":"Root Admin"}', '[]'];
  for (const line of bad) it(`rejects ${line}`, () => assert.ok(parseGuestLine(line) instanceof GuestProtocolError));
});

describe('encodeHostMessage', () => {
  it('writes one flat line the shell helper can parse', () => {
    assert.equal(encodeHostMessage({ type: 'assign', user: 'alice', uid: 1001, homeSerial: 'ardesia-home' }), '{"type":"assign","user":"alice","uid":1001,"homeSerial":"ardesia-home"}\n');
  });
  it('refuses what the helper could not carry', () => {
    assert.throws(() => encodeHostMessage({ type: 'assign', user: 'al"ice', uid: 1001, homeSerial: 'h' }));
    assert.throws(() => encodeHostMessage({ type: 'assign', user: 'alice', uid: 0, homeSerial: 'h' }));
  });
});

describe('GuestChannel over a fake socket (one-byte chunks)', () => {
  it('emits messages, reports bad lines, and resolves waitFor with a predicate', async () => {
    const { channel, sockets } = fakeChannel();
    channel.open();
    const socket = sockets[0]!;
    socket.emit('connect');
    const seen: GuestToHostMessage[] = [];
    const errors: GuestProtocolError[] = [];
    channel.on('message', (m) => seen.push(m));
    channel.on('protocol-error', (e) => errors.push(e));
    const started = channel.waitFor('session-started', (m) => m.user === 'bob', 1000);
    socket.deliverBytewise('{"type":"ready","version":"1"}\ngarbage\n{"type":"session-started","user":"alice"}\n{"type":"session-started","user":"bob"}\n');
    assert.deepEqual(await started, { type: 'session-started', user: 'bob' });
    assert.equal(seen.length, 3);
    assert.equal(errors.length, 1);
    channel.send({ type: 'ping' });
    assert.deepEqual(socket.written, ['{"type":"ping"}\n']);
    channel.close();
  });

  it('times out waitFor with a named error', async () => {
    const { channel, sockets } = fakeChannel();
    channel.open();
    sockets[0]!.emit('connect');
    await assert.rejects(channel.waitFor('pong', undefined, 5), GuestChannelTimeoutError);
    channel.close();
  });

  it('refuses to send while disconnected', () => {
    const { channel } = fakeChannel();
    channel.open();
    assert.throws(() => channel.send({ type: 'ping' }), GuestChannelClosedError);
    channel.close();
  });

  it('reconnects after the socket closes and drops the half line of the old connection', async () => {
    const { channel, sockets } = fakeChannel();
    const events: string[] = [];
    channel.on('connected', () => events.push('connected'));
    channel.on('disconnected', () => events.push('disconnected'));
    channel.open();
    sockets[0]!.emit('connect');
    sockets[0]!.deliverBytewise('{"type":"rea');
    sockets[0]!.destroy();
    await until(() => sockets.length === 2);
    sockets[1]!.emit('connect');
    const ready = channel.waitFor('ready', undefined, 1000);
    sockets[1]!.deliverBytewise('{"type":"ready","version":"2"}\n');
    assert.deepEqual(await ready, { type: 'ready', version: '2' });
    assert.deepEqual(events, ['connected', 'disconnected', 'connected']);
    channel.close();
    assert.equal(sockets.length, 2);
  });

  it('keeps dialling while the socket does not exist yet', async () => {
    const { channel, sockets } = fakeChannel();
    channel.open();
    sockets[0]!.emit('error', new Error('ENOENT'));
    sockets[0]!.emit('close');
    await until(() => sockets.length >= 2);
    channel.close();
  });
});

describe('redial back-off', () => {
  it('doubles from the base after each failed dial, up to the cap; the first retry waits the base', () => {
    const rows: Array<[number, number, number, number]> = [
      [0, 1000, 4000, 1000], // the channel dropped (no failed dial yet): the base
      [1, 1000, 4000, 1000],
      [2, 1000, 4000, 2000],
      [3, 1000, 4000, 4000],
      [9, 1000, 4000, 4000],
      [1000, 1000, 4000, 4000], // no overflow however long it fails
      [5, 250, 250, 250], // cap = base: no back-off (a VM on this host)
    ];
    for (const [failed, base, cap, want] of rows) assert.equal(redialDelayMs(failed, base, cap), want, `${failed} failed`);
  });
});
