import assert from 'node:assert/strict';
import { test } from 'node:test';
import { skipReport, skipSourceFile, skipsAllowedParse } from './test-skips.js';

const LIST = skipsAllowedParse(JSON.stringify([{ file: 'test/a.test.ts', test: 'needs a GPU', reason: 'no GPU in CI' }]));

test('skipsAllowedParse refuses entries without a file, test or reason', () => {
  assert.deepEqual(skipsAllowedParse('[]'), []);
  assert.throws(() => skipsAllowedParse('{}'), /expected an array/);
  assert.throws(() => skipsAllowedParse('[{"file":"test/a.test.ts","test":"x"}]'), /entry 0 needs a non-empty "reason"/);
  assert.throws(() => skipsAllowedParse('[{"file":"test/a.test.ts","test":"x","reason":"  "}]'), /"reason"/);
  assert.throws(() => skipsAllowedParse('[null]'), /entry 0 needs a non-empty "file"/);
});

test('skipSourceFile maps the compiled file back to the source tree', () => {
  assert.equal(skipSourceFile('dist/test/vm/boot-modes.test.js'), 'test/vm/boot-modes.test.ts');
  assert.equal(skipSourceFile('dist/src/gateway/relay.test.js'), 'src/gateway/relay.test.ts');
});

const cases: [string, Parameters<typeof skipReport>[1], number, RegExp[]][] = [
  ['no skips: nothing printed', [], 0, [/^$/]],
  ['an allowed skip is printed with its reason, and passes', [{ file: 'test/a.test.ts', name: 'needs a GPU', why: 'no /dev/dri' }], 0, [/allowed because: no GPU in CI/]],
  ['the same name in another file is not allowed', [{ file: 'test/b.test.ts', name: 'needs a GPU', why: 'no /dev/dri' }], 1, [/✖ test\/b.test.ts: needs a GPU/, /skipped because: no \/dev\/dri/]],
  [
    'allowed and refused together',
    [
      { file: 'test/a.test.ts', name: 'needs a GPU', why: 'x' },
      { file: 'test/a.test.ts', name: 'other', why: 'ovmf-ia32 is not installed' },
    ],
    1,
    [/allowed by test\/skips-allowed.json \(1\)/, /so the run fails \(1\)/, /ovmf-ia32 is not installed/],
  ],
];
for (const [name, skips, refused, patterns] of cases) {
  test(`skipReport: ${name}`, () => {
    const report = skipReport(LIST, skips);
    assert.equal(report.refused, refused);
    for (const p of patterns) assert.match(report.text, p);
  });
}
