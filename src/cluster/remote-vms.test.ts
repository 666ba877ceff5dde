import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ErrorCode } from '../contract/errors.js';
import { remoteStartFailure } from './remote-vms.js';

const ROWS: Array<[ErrorCode | undefined, ErrorCode]> = [
  [undefined, 'VM_START_FAILED'],
  ['VM_STATE_INVALID', 'VM_STATE_INVALID'],
  ['VM_STATE_MISMATCH', 'VM_STATE_MISMATCH'],
  ['VM_STATE_RESTORE_FAILED', 'VM_STATE_RESTORE_FAILED'],
  ['OWNER_PATH_FORBIDDEN', 'OWNER_PATH_FORBIDDEN'],
  ['IMAGE_CORRUPT', 'VM_START_FAILED'],
  ['VM_DISK_IN_USE', 'VM_START_FAILED'],
];
for (const [reported, answered] of ROWS) {
  test(`a failed start on an agent's host reported as ${reported ?? 'no code'} answers ${answered}`, () => assert.equal(remoteStartFailure(reported), answered));
}
