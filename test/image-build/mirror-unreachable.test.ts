// `image create --build debian` through the real daemon, pointed at a Debian mirror on a closed loopback port:
// mmdebstrap fails within seconds and the user gets IMAGE_BUILD_MIRROR_UNREACHABLE with what to do, and no
// half-made image is left behind. The thin-client OS build, run by the CLI itself, says the same.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ERROR_REGISTRY } from '../../src/contract/errors.js';
import { runCli, TestDaemon } from '../helpers/daemon.js';

/** A loopback port nothing listens on: bound once to pick it, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let daemon: TestDaemon;
let mirror: string;

before(async () => {
  mirror = `http://127.0.0.1:${await closedPort()}/debian`;
  const dataDir = mkdtempSync(join(tmpdir(), 'ard-'));
  // Its own, empty build cache: the build cannot find a finished tree and really asks the mirror.
  daemon = await TestDaemon.start({ dataDir, env: { ARDESIA_DEBIAN_MIRROR: mirror, ARDESIA_BUILD_CACHE: join(dataDir, 'build-cache') } });
});
after(async () => {
  await daemon?.destroy();
});

test('an unreachable Debian mirror fails the build fast with its code and hint, and leaves no image', async () => {
  const started = Date.now();
  const r = await daemon.cli(['--json', 'image', 'create', 'deb', '--build', 'debian'], { timeoutMs: 120_000 });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const { error } = JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string } };
  assert.equal(error.code, 'IMAGE_BUILD_MIRROR_UNREACHABLE');
  assert.equal(error.hint, ERROR_REGISTRY.IMAGE_BUILD_MIRROR_UNREACHABLE.hint);
  assert.equal(ERROR_REGISTRY.IMAGE_BUILD_MIRROR_UNREACHABLE.status, 502);
  assert.ok(error.message.includes(mirror), error.message);
  assert.match(error.message, /E: Failed to fetch /, 'the message ends with what mmdebstrap (apt) said');
  const ms = Date.now() - started;
  console.log(`unreachable mirror: the build failed in ${ms} ms`);
  assert.ok(ms < 60_000, `took ${ms} ms`);
  const text = await daemon.cli(['image', 'create', 'deb', '--build', 'debian'], { timeoutMs: 120_000 });
  assert.match(text.stderr, /Debian mirror did not answer/);
  assert.doesNotMatch(text.stderr, /bug|internal/i);
  const images = JSON.parse((await daemon.cli(['--json', 'image', 'list'])).stdout) as unknown[];
  assert.deepEqual(images, []);
});

test('the thin-client OS build (in the CLI) says the same, with its hint', async () => {
  const r = await runCli(daemon.dataDir, ['--json', 'thinclient', 'build', '--arch', 'amd64', '--out', join(daemon.dataDir, 'tc-out'), '--cache', join(daemon.dataDir, 'tc-cache')], {
    env: { ARDESIA_DEBIAN_MIRROR: mirror },
    timeoutMs: 120_000,
  });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.equal((JSON.parse(r.stdout) as { error: { code: string } }).error.code, 'IMAGE_BUILD_MIRROR_UNREACHABLE');
  const text = await runCli(daemon.dataDir, ['thinclient', 'build', '--arch', 'amd64', '--out', join(daemon.dataDir, 'tc-out'), '--cache', join(daemon.dataDir, 'tc-cache')], {
    env: { ARDESIA_DEBIAN_MIRROR: mirror },
    timeoutMs: 120_000,
  });
  assert.match(text.stderr, /E: Failed to fetch /);
  assert.ok(text.stderr.includes(ERROR_REGISTRY.IMAGE_BUILD_MIRROR_UNREACHABLE.hint), text.stderr);
});
