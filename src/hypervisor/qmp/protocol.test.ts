import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QmpFramer, classifyLine, encodeCommand, type QmpMessage } from './protocol.js';

// Lines as QEMU 7.2 writes them (captured from qemu-system-x86_64 on this machine).
const GREETING =
  '{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}}';
const RETURN_EMPTY = '{"return": {}, "id": "ardesia-1"}';
const RETURN_STATUS = '{"return": {"status": "prelaunch", "singlestep": false, "running": false}, "id": {"a": 1}}';
const ERROR_NOT_FOUND = '{"id": "x", "error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}}';
const ERROR_NO_ID = '{"error": {"class": "GenericError", "desc": "JSON parse error, invalid keyword \'garbage\'"}}';
const EVENT_RESET =
  '{"timestamp": {"seconds": 1795663079, "microseconds": 697457}, "event": "RESET", "data": {"guest": false, "reason": "host-qmp-system-reset"}}';
const EVENT_RESUME = '{"timestamp": {"seconds": 1795663079, "microseconds": 394572}, "event": "RESUME"}';
const HUMAN_UTF8 = '{"return": "Grüße — ✓\\r\\n", "id": "ardesia-9"}';

const EXPECTED: Record<string, QmpMessage> = {
  [GREETING]: {
    kind: 'greeting',
    version: { qemu: { major: 7, minor: 2, micro: 22 }, package: 'Debian 1:7.2+dfsg-7+deb12u18+b3' },
    capabilities: ['oob'],
  },
  [RETURN_EMPTY]: { kind: 'return', id: 'ardesia-1', hasId: true, value: {} },
  [RETURN_STATUS]: { kind: 'return', id: { a: 1 }, hasId: true, value: { status: 'prelaunch', singlestep: false, running: false } },
  [ERROR_NOT_FOUND]: { kind: 'error', id: 'x', hasId: true, errorClass: 'CommandNotFound', desc: 'The command nope has not been found' },
  [ERROR_NO_ID]: { kind: 'error', id: undefined, hasId: false, errorClass: 'GenericError', desc: "JSON parse error, invalid keyword 'garbage'" },
  [EVENT_RESET]: {
    kind: 'event',
    name: 'RESET',
    data: { guest: false, reason: 'host-qmp-system-reset' },
    timestamp: { seconds: 1795663079, microseconds: 697457 },
  },
  [EVENT_RESUME]: { kind: 'event', name: 'RESUME', data: {}, timestamp: { seconds: 1795663079, microseconds: 394572 } },
  [HUMAN_UTF8]: { kind: 'return', id: 'ardesia-9', hasId: true, value: 'Grüße — ✓\r\n' },
};
const ALL_LINES = Object.keys(EXPECTED);

function feed(framer: QmpFramer, chunks: Array<Buffer | string>): QmpMessage[] {
  return chunks.flatMap((chunk) => framer.push(chunk).map((frame) => frame.message));
}

function bytewise(text: string): Buffer[] {
  return [...Buffer.from(text, 'utf8')].map((byte) => Buffer.from([byte]));
}

describe('classifyLine', () => {
  for (const [line, expected] of Object.entries(EXPECTED)) {
    it(`classifies ${expected.kind} ${line.slice(0, 50)}`, () => {
      assert.deepEqual(classifyLine(line), expected);
    });
  }

  const garbage: Array<[string, string]> = [
    ['garbage', 'not JSON'],
    ['{"return": {}, "id": 1', 'not JSON'],
    ['[1, 2]', 'not a JSON object'],
    ['"text"', 'not a JSON object'],
    ['null', 'not a JSON object'],
    ['{"hello": "world"}', 'neither greeting, return, error nor event'],
    ['{"error": "boom", "id": "a"}', 'error without a string class and desc'],
    ['{"error": {"class": "GenericError"}, "id": "a"}', 'error without a string class and desc'],
    ['{"event": 42}', 'event without a name'],
    ['{"event": "STOP", "data": [1]}', 'event data is not an object'],
    ['{"QMP": {}}', 'greeting without QMP.version.qemu'],
    ['{"QMP": {"version": {"qemu": {"major": "7", "minor": 2, "micro": 0}}}}', 'greeting with a non-numeric version'],
  ];
  for (const [line, reason] of garbage) {
    it(`rejects ${line} as ${reason}`, () => {
      assert.deepEqual(classifyLine(line), { kind: 'invalid', line, reason });
    });
  }

  it('keeps a null return value and tolerates a greeting without capabilities', () => {
    assert.deepEqual(classifyLine('{"return": null, "id": "a"}'), { kind: 'return', id: 'a', hasId: true, value: null });
    assert.deepEqual(classifyLine('{"QMP": {"version": {"qemu": {"major": 9, "minor": 0, "micro": 1}}}}'), {
      kind: 'greeting',
      version: { qemu: { major: 9, minor: 0, micro: 1 }, package: '' },
      capabilities: [],
    });
  });
});

describe('QmpFramer', () => {
  const stream = ALL_LINES.map((line) => `${line}\r\n`).join('');
  const expectedAll = ALL_LINES.map((line) => EXPECTED[line]);

  const chunkings: Array<[string, Array<Buffer | string>]> = [
    ['everything in one chunk', [stream]],
    ['every message split into 1-byte chunks', bytewise(stream)],
    ['one chunk per message', ALL_LINES.map((line) => `${line}\r\n`)],
    ['chunks of 7 bytes', chunk(Buffer.from(stream), 7)],
    ['"\\r" and "\\n" in separate chunks', ALL_LINES.flatMap((line) => [`${line}\r`, '\n'])],
    ['a chunk boundary inside a UTF-8 sequence', splitInsideUtf8(stream)],
  ];
  for (const [name, chunks] of chunkings) {
    it(`frames ${name}`, () => {
      assert.deepEqual(feed(new QmpFramer(), chunks), expectedAll);
    });
  }

  it('accepts "\\n" alone as the terminator, and mixed with "\\r\\n"', () => {
    const mixed = `${RETURN_EMPTY}\n${EVENT_RESUME}\r\n${ERROR_NOT_FOUND}\n`;
    assert.deepEqual(feed(new QmpFramer(), [mixed]), [EXPECTED[RETURN_EMPTY], EXPECTED[EVENT_RESUME], EXPECTED[ERROR_NOT_FOUND]]);
    assert.deepEqual(feed(new QmpFramer(), bytewise(mixed)), [EXPECTED[RETURN_EMPTY], EXPECTED[EVENT_RESUME], EXPECTED[ERROR_NOT_FOUND]]);
  });

  it('holds a partial trailing message until its end arrives', () => {
    const framer = new QmpFramer();
    const half = Math.floor(RETURN_STATUS.length / 2);
    assert.deepEqual(feed(framer, [`${RETURN_EMPTY}\r\n${RETURN_STATUS.slice(0, half)}`]), [EXPECTED[RETURN_EMPTY]]);
    assert.equal(framer.bufferedBytes, half);
    assert.deepEqual(feed(framer, [RETURN_STATUS.slice(half)]), []);
    assert.deepEqual(feed(framer, ['\r\n']), [EXPECTED[RETURN_STATUS]]);
    assert.equal(framer.bufferedBytes, 0);
  });

  it('skips blank lines', () => {
    assert.deepEqual(feed(new QmpFramer(), [`\r\n\n   \r\n${RETURN_EMPTY}\r\n\r\n`]), [EXPECTED[RETURN_EMPTY]]);
  });

  it('reports a garbage line and carries on with the next one', () => {
    const frames = new QmpFramer().push(`not json at all\r\n${RETURN_EMPTY}\r\n`);
    assert.deepEqual(
      frames.map((f) => f.message),
      [{ kind: 'invalid', line: 'not json at all', reason: 'not JSON' }, EXPECTED[RETURN_EMPTY]],
    );
    assert.equal(frames[0]?.line, 'not json at all');
  });

  it('reports an over-long line once, drops the rest of it, and resumes after its newline', () => {
    const framer = new QmpFramer({ maxLineBytes: 64 });
    const long = 'x'.repeat(200);
    const messages = feed(framer, [...chunk(Buffer.from(long), 10), `\r\n${RETURN_EMPTY}\r\n`]);
    assert.equal(messages.length, 2);
    assert.equal(messages[0]?.kind, 'invalid');
    assert.match((messages[0] as { reason: string }).reason, /longer than 64 bytes/);
    assert.deepEqual(messages[1], EXPECTED[RETURN_EMPTY]);
    assert.equal(framer.bufferedBytes, 0);
  });
});

describe('encodeCommand', () => {
  it('writes execute, arguments and id on one line', () => {
    assert.equal(
      encodeCommand('screendump', { filename: '/tmp/a.png', format: 'png' }, 'ardesia-3'),
      '{"execute":"screendump","arguments":{"filename":"/tmp/a.png","format":"png"},"id":"ardesia-3"}\n',
    );
  });
  it('leaves arguments out when there are none', () => {
    assert.equal(encodeCommand('cont', undefined, 'ardesia-1'), '{"execute":"cont","id":"ardesia-1"}\n');
  });
  it('escapes newlines inside strings so a command stays one line', () => {
    const line = encodeCommand('human-monitor-command', { 'command-line': 'info\nversion' }, 'a');
    assert.equal(line.indexOf('\n'), line.length - 1);
  });
});

function chunk(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

/** Cuts the stream in the middle of the first multi-byte character ("ü" is 0xc3 0xbc). */
function splitInsideUtf8(text: string): Buffer[] {
  const bytes = Buffer.from(text, 'utf8');
  const cut = bytes.indexOf(0xc3) + 1;
  assert.ok(cut > 0);
  return [bytes.subarray(0, cut), bytes.subarray(cut)];
}
