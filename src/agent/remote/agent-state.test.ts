import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controllerAfter, controllerCandidates } from './agent-state.js';

const saved = { controller: 'https://10.0.0.5:8443', controllers: ['https://10.0.0.6:8443/'] };

const CANDIDATES: Array<[string, readonly string[] | undefined, string[]]> = [
  ['the saved controllers, the joined one first', undefined, ['https://10.0.0.5:8443', 'https://10.0.0.6:8443']],
  ['none given: the saved ones', [], ['https://10.0.0.5:8443', 'https://10.0.0.6:8443']],
  ['given ones replace the saved, each origin once', ['https://10.0.0.7:8443', 'https://10.0.0.7:8443/x', 'https://10.0.0.8:8443'], ['https://10.0.0.7:8443', 'https://10.0.0.8:8443']],
];
for (const [name, given, expected] of CANDIDATES) {
  test(`agent controllers: ${name}`, () => assert.deepEqual(controllerCandidates(saved, given), expected));
}

const AFTER: Array<[string, number, number, boolean, number]> = [
  ['a failed dial moves on', 2, 0, false, 1],
  ['past the last, back to the first', 2, 1, false, 0],
  ['a link accepted then closed: the same controller again', 2, 1, true, 1],
  ['one controller: always it', 1, 0, false, 0],
];
for (const [name, count, current, linked, expected] of AFTER) {
  test(`agent controllers: ${name}`, () => assert.equal(controllerAfter(count, current, linked), expected));
}
