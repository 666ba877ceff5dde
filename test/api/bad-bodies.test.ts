// Bodies, queries and params that break their route's schema are refused by the real daemon with
// BAD_REQUEST, the field named and what it accepts, before any handler runs (nothing changes).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ERROR_REGISTRY } from '../../src/contract/errors.js';
import { TestDaemon } from '../helpers/daemon.js';

let daemon: TestDaemon;

before(async () => {
  daemon = await TestDaemon.start();
});
after(async () => daemon?.destroy());

type Refusal = { code?: string; status?: number; message: string; hint?: string };

const CASES: Array<[string, string, unknown, RegExp]> = [
  ['POST', '/v1/vms/any/stop', { waitMs: null }, /^body\.waitMs: Expected number, received null$/],
  ['POST', '/v1/vms/any/stop', { waitMs: 'abc' }, /^body\.waitMs: Expected number, received string$/],
  ['POST', '/v1/vms/any/stop', { force: 'yes' }, /^body\.force: Expected boolean, received string$/],
  ['POST', '/v1/vms/any/wait', { timeoutMs: 0 }, /^body\.timeoutMs: Number must be greater than or equal to 1$/],
  ['GET', '/v1/vms/any/log?bytes=abc', undefined, /^query\.bytes: Expected number, received nan$/],
  ['GET', '/v1/vms/any/log?kind=serial', undefined, /^query\.kind: Invalid enum value\. Expected 'console' \| 'qemu', received 'serial'$/],
  ['POST', '/v1/images', { name: 'x', from: '/x', format: 'qed' }, /^body\.format: Invalid enum value\. Expected 'qcow2' \| 'raw' \| 'vmdk' \| 'vdi' \| 'vhdx', received 'qed'$/],
  ['POST', '/v1/images/x/rollback', { to: 'one' }, /^body\.to: Expected number, received string$/],
  ['DELETE', '/v1/images/x?version=0', undefined, /^query\.version: Number must be greater than or equal to 1$/],
  ['PATCH', '/v1/pools/p', { warmSpares: -1 }, /^body\.warmSpares: Number must be greater than or equal to 0$/],
  ['POST', '/v1/pools', { name: 'p1', image: 'i', maxDesktops: 'many' }, /body\.maxDesktops: Expected number, received string/],
  ['POST', '/v1/homes/alice/resize', { sizeBytes: 2 ** 30 + 0.5 }, /^body\.sizeBytes: Expected integer, received float$/],
  ['POST', '/v1/desktops/d/stop', { waitMs: 99_999_999 }, /^body\.waitMs: Number must be less than or equal to 3600000$/],
  ['POST', '/v1/vms/any/stop', { wait: 5 }, /^body: Unrecognized key\(s\) in object: 'wait'$/],
];

for (const [method, url, body, message] of CASES) {
  test(`${method} ${url} ${JSON.stringify(body) ?? ''} → BAD_REQUEST naming the field`, async () => {
    const err = await daemon.api().request(method, url, body).then(
      () => undefined,
      (e: Refusal) => e,
    );
    assert.ok(err, 'the request was refused');
    assert.equal(err.code, 'BAD_REQUEST', err.message);
    assert.match(err.message, message);
  });
}

test('a refused body changes nothing: no image record or folder, no pool', async () => {
  const images = await daemon.api().request<unknown[]>('GET', '/v1/images');
  assert.deepEqual(images, []);
  assert.equal(existsSync(join(daemon.dataDir, 'images', 'x')), false);
  const pools = await daemon.api().request<unknown[]>('GET', '/v1/pools');
  assert.deepEqual(pools, []);
  assert.equal(ERROR_REGISTRY.BAD_REQUEST.status, 400);
});
