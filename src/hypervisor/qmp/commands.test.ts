import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QmpCommands, type QmpExecuteOptions } from './commands.js';
import { QmpCommandError, QmpDisconnectedError, QmpProtocolError } from './errors.js';

/** Records what each typed method sends and answers with a canned reply or error. */
class RecordingCommands extends QmpCommands {
  readonly sent: Array<{ command: string; args: Record<string, unknown> | undefined }> = [];
  constructor(private readonly answer: (command: string) => unknown) {
    super();
  }
  execute<T>(command: string, args?: Record<string, unknown>, _options?: QmpExecuteOptions): Promise<T> {
    this.sent.push({ command, args });
    try {
      return Promise.resolve(this.answer(command) as T);
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

type Call = [name: string, run: (q: QmpCommands) => Promise<unknown>, command: string, args: Record<string, unknown> | undefined];
const CALLS: Call[] = [
  ['cont', (q) => q.cont(), 'cont', undefined],
  ['stop', (q) => q.stop(), 'stop', undefined],
  ['systemReset', (q) => q.systemReset(), 'system_reset', undefined],
  ['systemPowerdown', (q) => q.systemPowerdown(), 'system_powerdown', undefined],
  ['quit', (q) => q.quit(), 'quit', undefined],
  ['screendump default png', (q) => q.screendump('/tmp/s.png'), 'screendump', { filename: '/tmp/s.png', format: 'png' }],
  ['screendump ppm head 1', (q) => q.screendump('/tmp/s.ppm', 'ppm', { head: 1 }), 'screendump', { filename: '/tmp/s.ppm', format: 'ppm', head: 1 }],
  ['blockdevAdd', (q) => q.blockdevAdd({ driver: 'null-co', 'node-name': 'n0' }), 'blockdev-add', { driver: 'null-co', 'node-name': 'n0' }],
  ['blockdevDel', (q) => q.blockdevDel('n0'), 'blockdev-del', { 'node-name': 'n0' }],
  ['deviceAdd', (q) => q.deviceAdd({ driver: 'virtio-blk-pci', id: 'home0', drive: 'n0' }), 'device_add', { driver: 'virtio-blk-pci', id: 'home0', drive: 'n0' }],
  ['deviceDel', (q) => q.deviceDel('home0'), 'device_del', { id: 'home0' }],
  ['setPassword', (q) => q.setPassword('vnc', 's3cret'), 'set_password', { protocol: 'vnc', password: 's3cret' }],
  ['setPassword connected', (q) => q.setPassword('spice', 'pw', { connected: 'disconnect' }), 'set_password', { protocol: 'spice', password: 'pw', connected: 'disconnect' }],
  ['expirePassword', (q) => q.expirePassword('vnc', '+30'), 'expire_password', { protocol: 'vnc', time: '+30' }],
];

const REPLIES: Record<string, unknown> = {
  'query-status': { status: 'running', singlestep: false, running: true },
  'query-kvm': { enabled: false, present: true },
  'query-name': { name: 'desk-1' },
  'query-version': { qemu: { major: 7, minor: 2, micro: 22 }, package: 'Debian' },
  'query-block': [{ device: 'vd0', removable: false, locked: false, qdev: '/machine/peripheral/vd0/virtio-backend' }],
  'human-monitor-command': 'QEMU 7.2.22\r\n',
};

describe('QmpCommands sends one QMP command per method', () => {
  for (const [name, run, command, args] of CALLS) {
    it(name, async () => {
      const q = new RecordingCommands(() => ({}));
      await run(q);
      assert.deepEqual(q.sent, [{ command, args }]);
    });
  }
});

describe('QmpCommands checks replies', () => {
  it('returns the typed query results', async () => {
    const q = new RecordingCommands((command) => REPLIES[command]);
    assert.deepEqual(await q.queryStatus(), { status: 'running', running: true });
    assert.deepEqual(await q.queryKvm(), { enabled: false, present: true });
    assert.deepEqual(await q.queryName(), { name: 'desk-1' });
    assert.deepEqual(await q.queryVersion(), REPLIES['query-version']);
    assert.deepEqual(await q.queryBlock(), REPLIES['query-block']);
    assert.equal(await q.humanMonitorCommand('info version', { cpuIndex: 0 }), 'QEMU 7.2.22\r\n');
    assert.deepEqual(q.sent.at(-1), { command: 'human-monitor-command', args: { 'command-line': 'info version', 'cpu-index': 0 } });
  });

  const badReplies: Array<[string, (q: QmpCommands) => Promise<unknown>, unknown]> = [
    ['query-status', (q) => q.queryStatus(), { status: 'running' }],
    ['query-kvm', (q) => q.queryKvm(), { enabled: 'yes', present: true }],
    ['query-version', (q) => q.queryVersion(), { qemu: '7.2' }],
    ['query-block', (q) => q.queryBlock(), { device: 'vd0' }],
    ['human-monitor-command', (q) => q.humanMonitorCommand('info version'), 42],
  ];
  for (const [command, run, reply] of badReplies) {
    it(`rejects a malformed ${command} reply with QmpProtocolError`, async () => {
      await assert.rejects(run(new RecordingCommands(() => reply)), (error: unknown) => {
        assert.ok(error instanceof QmpProtocolError);
        assert.match(error.message, new RegExp(`reply to ${command}`));
        return true;
      });
    });
  }

  it('treats a connection dropped by QEMU during quit as success, but not a close by us', async () => {
    const dropped = new RecordingCommands(() => {
      throw new QmpDisconnectedError({ kind: 'closed-by-peer', message: 'QEMU closed the connection' }, 'quit');
    });
    await dropped.quit();
    const closedByUs = new RecordingCommands(() => {
      throw new QmpDisconnectedError({ kind: 'closed-by-client', message: 'close() called' }, 'quit');
    });
    await assert.rejects(closedByUs.quit(), QmpDisconnectedError);
  });

  it('passes QEMU errors through', async () => {
    const q = new RecordingCommands(() => {
      throw new QmpCommandError('device_del', 'DeviceNotFound', "Device 'x' not found");
    });
    await assert.rejects(q.deviceDel('x'), (error: unknown) => error instanceof QmpCommandError && error.errorClass === 'DeviceNotFound');
  });
});
