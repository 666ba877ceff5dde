import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONSOLE_LINE_MAX, desktopFailure, lastConsoleLine } from './failure.js';

const none = { lastError: null, vmExit: null, consoleTail: null };

test('failure: the step follows the state the desktop left', () => {
  assert.equal(desktopFailure('provisioning', 'provision-failed', none).step, 'clone');
  assert.equal(desktopFailure('booting', 'boot-failed', none).step, 'boot');
  assert.equal(desktopFailure('booting', 'vm-exited', none).step, 'boot');
  assert.equal(desktopFailure('ready', 'vm-exited', none).step, 'spare');
  assert.equal(desktopFailure('resetting', 'reset-failed', none).step, 'reset');
});

test('failure: the recorded error wins; an exit without one names the exit reason; never an empty message', () => {
  const recorded = desktopFailure('booting', 'boot-failed', { ...none, lastError: "the desktop's VM did not start: bad disk", vmExit: 'start failed: bad disk' });
  assert.deepEqual(recorded, { step: 'boot', message: "the desktop's VM did not start: bad disk", vmExit: 'start failed: bad disk', consoleLine: null });
  const killed = desktopFailure('ready', 'vm-exited', { ...none, vmExit: 'killed by signal 9 unexpectedly', consoleTail: 'login: \r\n' });
  assert.equal(killed.message, 'the VM exited: killed by signal 9 unexpectedly');
  assert.equal(killed.consoleLine, 'login:');
  assert.match(desktopFailure('booting', 'vm-exited', none).message, /QEMU left no exit reason/);
  for (const [from, event] of [['provisioning', 'provision-failed'], ['booting', 'boot-failed'], ['resetting', 'reset-failed']] as const) {
    assert.ok(desktopFailure(from, event, { ...none, lastError: '  ' }).message.length > 20, `${from} + ${event}`);
  }
});

test('failure: the last console line is printable text, escape sequences gone, bounded', () => {
  assert.equal(lastConsoleLine(null), null);
  assert.equal(lastConsoleLine('\r\n\r\n'), null);
  assert.equal(lastConsoleLine('[    1.0] booting\r\n\x1b[1;31mKernel panic - not syncing\x1b[0m\r\n\x07\n'), 'Kernel panic - not syncing');
  const long = lastConsoleLine(`x${'y'.repeat(500)}`)!;
  assert.equal(long.length, CONSOLE_LINE_MAX);
  assert.ok(long.endsWith('…'));
});
