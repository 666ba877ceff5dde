import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { displayRelayBinary, parseRelayStatus, RelayOutputReader, relayCloseCommand } from './relay.js';

describe('parseRelayStatus', () => {
  const rows: Array<[string, ReturnType<typeof parseRelayStatus>]> = [
    ['T 10 2 5', { final: false, totals: { toBrowser: 10, toDesktop: 2, peakBrowserQueue: 5 } }],
    ['E 312 0 12 desktop', { final: true, totals: { toBrowser: 312, toDesktop: 0, peakBrowserQueue: 12 }, endedBy: 'desktop' }],
    ['E 0 0 0 error', { final: true, totals: { toBrowser: 0, toDesktop: 0, peakBrowserQueue: 0 }, endedBy: 'error' }],
    ['E 1 2 3', undefined],
    ['T 1 2 3 browser', undefined],
    ['E 1 2 3 someone', undefined],
    ['T 1 2', undefined],
    ['display-relay: bad start', undefined],
  ];
  for (const [line, expected] of rows) it(JSON.stringify(line), () => assert.deepEqual(parseRelayStatus(line), expected));
});

describe('relayCloseCommand', () => {
  const rows: Array<[number | undefined, string | undefined, string]> = [
    [4409, 'DISCONNECTED by an administrator', 'C 4409 DISCONNECTED by an administrator\n'],
    [undefined, undefined, 'C 1000 \n'],
    [999, 'x', 'C 1000 x\n'],
    [1000, 'two\nlines\r\n', 'C 1000 two lines \n'],
    [1001, 'é'.repeat(70), `C 1001 ${'é'.repeat(61)}\n`], // 123 bytes cut inside a character: the half is dropped
  ];
  for (const [code, reason, expected] of rows) it(`${code} ${JSON.stringify(reason)}`, () => assert.equal(relayCloseCommand(code, reason), expected));
});

describe('displayRelayBinary', () => {
  it('off disables it; a missing file says how to build it', () => {
    assert.deepEqual(displayRelayBinary({ ARDESIA_DISPLAY_RELAY: 'off' }), { why: 'disabled by ARDESIA_DISPLAY_RELAY=off' });
    const missing = displayRelayBinary({ ARDESIA_DISPLAY_RELAY: '/nonexistent/display-relay' });
    assert.equal(missing.path, undefined);
    assert.match(missing.why!, /^\/nonexistent\/display-relay is missing .*setup\.mjs/);
  });
});

describe('RelayOutputReader', () => {
  const output = Buffer.concat([Buffer.from('T 1 0 1\nM 5\n'), Buffer.from([10, 77, 32, 0, 255]), Buffer.from('M 2\nab'), Buffer.from('E 9 7 3 browser\n')]);
  for (const chunk of [1, 2, 7, output.length]) {
    it(`status lines and browser copies apart, in ${chunk}-byte chunks`, () => {
      const lines: string[] = [];
      const copies: Buffer[] = [];
      const reader = new RelayOutputReader((l) => lines.push(l), (b) => copies.push(Buffer.from(b)));
      for (let at = 0; at < output.length; at += chunk) reader.feed(output.subarray(at, at + chunk));
      assert.deepEqual(lines, ['T 1 0 1', 'E 9 7 3 browser']);
      assert.deepEqual(Buffer.concat(copies), Buffer.from([10, 77, 32, 0, 255, 97, 98]));
    });
  }
});

describe('RelayOutputReader: desktop copies ("V")', () => {
  const output = Buffer.concat([Buffer.from('V 3\nRFB'), Buffer.from('M 2\nab'), Buffer.from('T 3 2 3\nV 4\n\nM 1'), Buffer.from('E 7 2 3 desktop\n')]);
  for (const chunk of [1, 3, output.length]) {
    it(`kept apart from browser copies and status lines, in ${chunk}-byte chunks`, () => {
      const lines: string[] = [];
      const browser: Buffer[] = [];
      const desktop: Buffer[] = [];
      const reader = new RelayOutputReader((l) => lines.push(l), (b) => browser.push(Buffer.from(b)), (b) => desktop.push(Buffer.from(b)));
      for (let at = 0; at < output.length; at += chunk) reader.feed(output.subarray(at, at + chunk));
      assert.deepEqual(lines, ['T 3 2 3', 'E 7 2 3 desktop']);
      assert.deepEqual(Buffer.concat(browser).toString(), 'ab');
      assert.deepEqual(Buffer.concat(desktop).toString('latin1'), 'RFB\nM 1');
    });
  }
});
