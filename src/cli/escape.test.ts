import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EscapeReader } from './escape.js';

const CASES: Array<[string, string[], string, string[]]> = [
  ['detach at start', ['~.'], '', ['detach']],
  ['detach after newline', ['ls\r~.'], 'ls\r', ['detach']],
  ['tilde mid-line is data', ['a~.'], 'a~.', []],
  ['double tilde sends one', ['~~x'], '~x', []],
  ['next console', ['~n'], '', ['next']],
  ['split across chunks', ['echo\n', '~', '.'], 'echo\n', ['detach']],
  ['tilde then other key', ['~x'], '~x', []],
];

for (const [name, chunks, forward, actions] of CASES) {
  test(name, () => {
    const r = new EscapeReader();
    let out = '';
    const acts: string[] = [];
    for (const c of chunks) {
      const res = r.feed(Buffer.from(c));
      out += res.forward.toString();
      acts.push(...res.actions);
    }
    assert.equal(out, forward);
    assert.deepEqual(acts, actions);
  });
}
