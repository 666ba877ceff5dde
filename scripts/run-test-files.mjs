#!/usr/bin/env node
// Runs the given test files in the order given (node --test sorts them; run() keeps the order), with the
// spec reporter; exits non-zero when any test failed. Started by run-tests.mjs with --enable-source-maps.
import { run } from 'node:test';
import { spec } from 'node:test/reporters';

const files = process.argv.slice(2);
const concurrency = Number(process.env.ARDESIA_TEST_CONCURRENCY ?? '2');
let failed = false;
const stream = run({ files, concurrency });
stream.on('test:fail', () => (failed = true));
stream.compose(spec).pipe(process.stdout);
stream.on('end', () => {
  // The reporter may still be writing its summary: set the code, let the process end on its own.
  process.exitCode = failed ? 1 : 0;
});
