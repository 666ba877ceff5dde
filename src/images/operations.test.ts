import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArdesiaError } from '../contract/errors.js';
import { Operations } from './operations.js';

async function settled(ops: Operations, id: string) {
  for (;;) {
    const op = ops.get(id);
    if (op.state !== 'running') return op;
    await new Promise((r) => setImmediate(r));
  }
}

test('an operation reports progress, then its result', async () => {
  const ops = new Operations();
  let step!: () => void;
  const gate = new Promise<void>((r) => (step = r));
  const op = ops.start('import', 'img', async (h) => {
    h.progress(42.04, 'converting');
    await gate;
    return { version: 1 };
  });
  assert.equal(op.state, 'running');
  await new Promise((r) => setImmediate(r));
  assert.equal(ops.get(op.id).progress, 42);
  assert.equal(ops.get(op.id).message, 'converting');
  step();
  const done = await settled(ops, op.id);
  assert.equal(done.state, 'succeeded');
  assert.deepEqual(done.result, { version: 1 });
});

test('a failed operation carries the error code and hint', async () => {
  const ops = new Operations();
  const op = ops.start('publish', 'img', async () => {
    throw new ArdesiaError('PUBLISH_FAILED', 'disk full');
  });
  const done = await settled(ops, op.id);
  assert.equal(done.state, 'failed');
  assert.equal(done.error?.code, 'PUBLISH_FAILED');
  assert.match(done.error?.hint ?? '', /previous version/);
  assert.throws(() => ops.get('nope'), /no operation/);
});

test('an unexpected failure shows a reference, never its text; the detail goes to the log', async () => {
  const logged: Array<{ err: unknown; ref: string }> = [];
  const ops = new Operations((err, ref) => logged.push({ err, ref }));
  const op = ops.start('import', 'img', async () => {
    throw new Error('EISDIR: illegal operation on a directory, read /var/lib/ardesia/secret');
  });
  const done = await settled(ops, op.id);
  assert.equal(done.error?.code, 'INTERNAL');
  assert.doesNotMatch(JSON.stringify(done.error), /EISDIR|secret/);
  assert.equal(logged.length, 1);
  assert.ok(done.error?.message.includes(logged[0]!.ref), done.error?.message);
  assert.doesNotMatch(done.error?.hint ?? '', /bug/i);
});
