// QmpClient against a real qemu-system-x86_64 (TCG, 64 MiB, no guest disk), started paused.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { QmpClient, QmpCommandError, QmpConnectError, type QmpDisconnectReason } from '../../src/hypervisor/qmp/index.js';
import { RFB_SECURITY_VNC_AUTH, rfbAuthenticate } from '../helpers/rfb.js';

const QEMU_BINARY = 'qemu-system-x86_64';
const SOCKET_WAIT_MS = 10_000;
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Retries while QEMU has not created or opened its socket yet; any other failure is real. */
async function connectWhenListening(socketPath: string, qemu: ChildProcess): Promise<QmpClient> {
  const deadline = Date.now() + SOCKET_WAIT_MS;
  for (;;) {
    try {
      return await QmpClient.connect(socketPath, { timeoutMs: 5_000 });
    } catch (error) {
      const notYet = error instanceof QmpConnectError && (error.code === 'ENOENT' || error.code === 'ECONNREFUSED');
      if (!notYet || qemu.exitCode !== null || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

describe('QmpClient against real QEMU', () => {
  let dir = '';
  let qemu: ChildProcess | undefined;
  let client: QmpClient;
  let stderr = '';

  before(async () => {
    dir = mkdtempSync('/tmp/qmq-');
    const qmpPath = join(dir, 'qmp.sock');
    qemu = spawn(
      QEMU_BINARY,
      [
        '-S', '-nodefaults', '-display', 'none', '-machine', 'q35', '-accel', 'tcg', '-m', '64',
        '-name', 'ardesia-qmp-test',
        // A display device for screendump, and a password-protected VNC for set_password.
        '-device', 'VGA',
        '-vnc', `unix:${join(dir, 'vnc.sock')},password=on`,
        '-qmp', `unix:${qmpPath},server=on,wait=off`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    qemu.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      client = await connectWhenListening(qmpPath, qemu);
    } catch (error) {
      throw new Error(`QEMU did not offer QMP: ${String(error)}\n${stderr}`);
    }
  });

  after(async () => {
    await client?.close();
    if (qemu !== undefined && qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports the same version in the greeting and in query-version', async () => {
    const version = await client.queryVersion();
    assert.deepEqual(version, client.greeting.version);
    assert.ok(version.qemu.major >= 7);
    assert.ok(client.greeting.capabilities.includes('oob'));
  });

  it('starts in prelaunch, not running, under TCG, with its name', async () => {
    const [status, kvm, name] = await Promise.all([client.queryStatus(), client.queryKvm(), client.queryName()]);
    assert.deepEqual(status, { status: 'prelaunch', running: false });
    assert.equal(kvm.enabled, false);
    assert.equal(typeof kvm.present, 'boolean');
    assert.deepEqual(name, { name: 'ardesia-qmp-test' });
  });

  it('cont emits RESUME and runs; stop emits STOP and pauses', async () => {
    const resumed = client.waitForEvent('RESUME');
    await client.cont();
    await resumed;
    assert.deepEqual(await client.queryStatus(), { status: 'running', running: true });
    const stopped = client.waitForEvent('STOP');
    await client.stop();
    await stopped;
    assert.deepEqual(await client.queryStatus(), { status: 'paused', running: false });
  });

  it('system_reset emits RESET from the host', async () => {
    const reset = client.waitForEvent('RESET', (event) => !event.data.guest);
    await client.systemReset();
    assert.deepEqual((await reset).data, { guest: false, reason: 'host-qmp-system-reset' });
  });

  it('screendump writes a PNG file', async () => {
    const file = join(dir, 'screen.png');
    await client.screendump(file, 'png');
    assert.ok(existsSync(file));
    assert.deepEqual(readFileSync(file).subarray(0, PNG_MAGIC.length), PNG_MAGIC);
  });

  it('adds and removes a block node, and reports QEMU errors for duplicates', async () => {
    await client.blockdevAdd({ driver: 'null-co', 'node-name': 'qmptest0' });
    await assert.rejects(client.blockdevAdd({ driver: 'null-co', 'node-name': 'qmptest0' }), (error: unknown) => {
      assert.ok(error instanceof QmpCommandError);
      assert.equal(error.errorClass, 'GenericError');
      assert.match(error.desc, /qmptest0/);
      return true;
    });
    await client.blockdevDel('qmptest0');
    await assert.rejects(client.blockdevDel('qmptest0'), QmpCommandError);
    assert.ok(Array.isArray(await client.queryBlock()));
  });

  it('device_del of an unknown id fails with DeviceNotFound', async () => {
    await assert.rejects(client.deviceDel('no-such-device'), (error: unknown) => {
      assert.ok(error instanceof QmpCommandError);
      assert.equal(error.errorClass, 'DeviceNotFound');
      return true;
    });
  });

  it('sets and expires the VNC password: RFB clients with it get in, without it or after expiry are refused', async () => {
    const vnc = join(dir, 'vnc.sock');
    const before = await rfbAuthenticate(vnc, 'ticket-123');
    assert.deepEqual(before.offered, [RFB_SECURITY_VNC_AUTH], 'a password=on display offers VNC authentication only');
    assert.equal(before.accepted, false, 'no password is set yet: nobody gets in');
    await client.setPassword('vnc', 'ticket-123', { connected: 'keep' });
    await client.expirePassword('vnc', 'never');
    const right = await rfbAuthenticate(vnc, 'ticket-123');
    assert.equal(right.accepted, true, right.reason);
    assert.equal(right.name, 'QEMU (ardesia-qmp-test)');
    const wrong = await rfbAuthenticate(vnc, 'tIcket-1'); // VNC authentication keys on the first 8 bytes only
    assert.equal(wrong.accepted, false);
    assert.match(wrong.reason ?? '', /fail/i);
    const without = await rfbAuthenticate(vnc, undefined);
    assert.equal(without.accepted, false);
    await client.expirePassword('vnc', 'now');
    assert.equal((await rfbAuthenticate(vnc, 'ticket-123')).accepted, false, 'an expired password opens nothing');
  });

  it('runs a human monitor command', async () => {
    const text = await client.humanMonitorCommand('info version');
    const { major, minor, micro } = client.greeting.version.qemu;
    assert.ok(text.startsWith(`${major}.${minor}.${micro}`), text);
  });

  it('rejects an unknown command with CommandNotFound and stays usable', async () => {
    await assert.rejects(client.execute('no-such-command'), (error: unknown) => {
      assert.ok(error instanceof QmpCommandError);
      assert.equal(error.errorClass, 'CommandNotFound');
      assert.equal(error.command, 'no-such-command');
      return true;
    });
    assert.equal((await client.queryStatus()).running, false);
  });

  it('quit emits SHUTDOWN, then the connection ends and QEMU exits', async () => {
    const exited = new Promise<number | null>((resolve) => qemu?.once('exit', (code) => resolve(code)));
    const disconnected = new Promise<QmpDisconnectReason>((resolve) => client.once('disconnect', resolve));
    const shutdown = client.waitForEvent('SHUTDOWN');
    await client.quit();
    assert.deepEqual((await shutdown).data, { guest: false, reason: 'host-qmp-quit' });
    const reason = await disconnected;
    assert.equal(reason.kind, 'closed-by-peer');
    assert.equal(client.state, 'closed');
    assert.equal(await exited, 0);
  });
});
