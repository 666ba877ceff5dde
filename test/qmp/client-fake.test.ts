// QmpClient against a scripted QMP server on a real unix socket, in both output modes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  QmpClient,
  QmpCommandError,
  QmpConnectError,
  QmpDisconnectedError,
  QmpProtocolError,
  QmpTimeoutError,
  type QmpConnectOptions,
  type QmpDisconnectReason,
  type QmpEvent,
} from '../../src/hypervisor/qmp/index.js';
import { FakeQmpServer, type FakeOutputMode, type FakeRequest, type FakeServerOptions, type FakeSession } from './fake-server.js';

const started: Array<{ server: FakeQmpServer; client?: QmpClient }> = [];
after(async () => {
  for (const { server, client } of started) {
    await client?.close();
    await server.stop();
  }
});

async function setup(options: FakeServerOptions, connect: QmpConnectOptions = {}): Promise<{ server: FakeQmpServer; client: QmpClient }> {
  const server = await FakeQmpServer.start(options);
  const entry: { server: FakeQmpServer; client?: QmpClient } = { server };
  started.push(entry);
  const client = await QmpClient.connect(server.socketPath, connect);
  entry.client = client;
  return { server, client };
}

function disconnectRecorder(client: QmpClient): QmpDisconnectReason[] {
  const reasons: QmpDisconnectReason[] = [];
  client.on('disconnect', (reason) => reasons.push(reason));
  return reasons;
}

for (const mode of ['bytewise', 'coalesced'] as FakeOutputMode[]) {
  describe(`QmpClient over a fake QEMU (${mode} output)`, () => {
    it('reads the greeting and negotiates capabilities before any command', async () => {
      const { server, client } = await setup({ mode });
      assert.deepEqual(client.greeting, { version: { qemu: { major: 7, minor: 2, micro: 22 }, package: 'fake' }, capabilities: ['oob'] });
      assert.equal(client.state, 'ready');
      // The fake answers CommandNotFound to anything sent before qmp_capabilities, like QEMU.
      assert.equal(server.sessions[0]?.negotiated, true);
      assert.deepEqual(await client.execute('query-name'), {});
      assert.deepEqual(server.commandNames(), ['query-name']);
    });

    it('matches replies to commands by id when they come back out of order', async () => {
      const held: FakeRequest[] = [];
      const { server, client } = await setup({
        mode,
        handler: (request, session) => {
          held.push(request);
          if (held.length < 3) return;
          for (const r of held.reverse()) session.reply(r.id, { answeredFor: r.execute });
        },
      });
      const results = await Promise.all([client.execute('query-a'), client.execute('query-b'), client.execute('query-c')]);
      assert.deepEqual(results, [{ answeredFor: 'query-a' }, { answeredFor: 'query-b' }, { answeredFor: 'query-c' }]);
      const ids = server.requests.map((r) => r.id);
      assert.equal(new Set(ids).size, 3, 'every command gets its own id');
    });

    it('emits events that arrive between replies, raw and typed', async () => {
      const { client } = await setup({
        mode,
        handler: (request, session) => {
          session.event('RESUME');
          session.event('BALLOON_CHANGE', { actual: 1024 });
          session.reply(request.id, { done: true });
          session.event('SHUTDOWN', { guest: true, reason: 'guest-shutdown' });
        },
      });
      const raw: QmpEvent[] = [];
      client.on('event', (event) => raw.push(event));
      const shutdowns: Array<{ guest: boolean; reason: string }> = [];
      const unsubscribe = client.onEvent('SHUTDOWN', (event) => shutdowns.push(event.data));
      const shutdown = client.waitForEvent('SHUTDOWN', (event) => event.data.guest);
      assert.deepEqual(await client.execute('cont'), { done: true });
      assert.deepEqual((await shutdown).data, { guest: true, reason: 'guest-shutdown' });
      unsubscribe();
      assert.deepEqual(
        raw.map((e) => [e.event, e.data]),
        [['RESUME', {}], ['BALLOON_CHANGE', { actual: 1024 }], ['SHUTDOWN', { guest: true, reason: 'guest-shutdown' }]],
      );
      assert.deepEqual(raw[0]?.timestamp, { seconds: 1795663079, microseconds: 394572 });
      assert.deepEqual(shutdowns, [{ guest: true, reason: 'guest-shutdown' }]);
    });

    it('rejects with QmpCommandError carrying QEMU class and desc, and stays usable', async () => {
      const { client } = await setup({
        mode,
        handler: (request, session) =>
          request.execute === 'device_del'
            ? session.replyError(request.id, 'DeviceNotFound', "Device 'nope' not found")
            : session.reply(request.id, { name: 'vm1' }),
      });
      await assert.rejects(client.deviceDel('nope'), (error: unknown) => {
        assert.ok(error instanceof QmpCommandError);
        assert.equal(error.command, 'device_del');
        assert.equal(error.errorClass, 'DeviceNotFound');
        assert.equal(error.desc, "Device 'nope' not found");
        return true;
      });
      assert.deepEqual(await client.queryName(), { name: 'vm1' });
    });

    it('times out one command, drops its late reply, and answers the next one correctly', async () => {
      let slow: { request: FakeRequest; session: FakeSession } | undefined;
      const logged: Array<[string, string]> = [];
      const { client } = await setup(
        {
          mode,
          handler: (request, session) => {
            if (request.execute === 'slow-command') {
              slow = { request, session };
              return;
            }
            // The late reply to the timed-out command arrives first, then this one's.
            if (slow !== undefined) session.reply(slow.request.id, { late: true });
            session.reply(request.id, { name: 'after-timeout' });
          },
        },
        { logger: (direction, line) => logged.push([direction, line]) },
      );
      await assert.rejects(client.execute('slow-command', undefined, { timeoutMs: 50 }), (error: unknown) => {
        assert.ok(error instanceof QmpTimeoutError);
        assert.equal(error.operation, 'slow-command');
        return true;
      });
      assert.ok(slow !== undefined, 'the server received the command');
      assert.deepEqual(await client.queryName(), { name: 'after-timeout' });
      assert.equal(client.state, 'ready');
      const dropped = logged.filter(([direction]) => direction === 'drop').map(([, line]) => JSON.parse(line));
      assert.deepEqual(dropped, [{ return: { late: true }, id: slow.request.id }]);
    });

    it('rejects every pending command with QmpDisconnectedError when the server closes mid-command', async () => {
      let seen = 0;
      const { client } = await setup({
        mode,
        handler: (request, session) => {
          seen += 1;
          if (seen === 2) void session.endAfterOutput();
        },
      });
      const reasons = disconnectRecorder(client);
      const first = client.execute('query-status');
      const second = client.execute('stop');
      for (const pending of [first, second]) {
        await assert.rejects(pending, (error: unknown) => {
          assert.ok(error instanceof QmpDisconnectedError);
          assert.equal(error.reason.kind, 'closed-by-peer');
          return true;
        });
      }
      await assert.rejects(client.cont(), QmpDisconnectedError);
      await assert.rejects(client.waitForEvent('STOP'), QmpDisconnectedError);
      await client.close();
      assert.equal(reasons.length, 1, "'disconnect' is emitted exactly once");
      assert.equal(client.state, 'closed');
    });

    it('treats a garbage line as a protocol error: disconnect, pending commands rejected', async () => {
      const { client } = await setup({ mode, handler: (_request, session) => session.send('this is not QMP') });
      const reasons = disconnectRecorder(client);
      const event = client.waitForEvent('RESUME');
      await assert.rejects(client.queryStatus(), (error: unknown) => {
        assert.ok(error instanceof QmpDisconnectedError);
        assert.equal(error.reason.kind, 'protocol-error');
        assert.ok(error.cause instanceof QmpProtocolError);
        assert.equal(error.cause.line, 'this is not QMP');
        return true;
      });
      await assert.rejects(event, QmpDisconnectedError);
      assert.equal(reasons.length, 1);
      assert.ok(reasons[0]?.error instanceof QmpProtocolError);
    });

    it('fails connect with QmpProtocolError when the greeting is garbage or missing', async () => {
      for (const greeting of ['{"not": "a greeting"}', 'garbage', '{"return": {}}']) {
        const server = await FakeQmpServer.start({ mode, greeting });
        started.push({ server });
        await assert.rejects(QmpClient.connect(server.socketPath), (error: unknown) => {
          assert.ok(error instanceof QmpProtocolError, `greeting ${greeting}`);
          return true;
        });
      }
    });

    it('times out waitForEvent without disturbing the connection', async () => {
      const { client } = await setup({ mode });
      await assert.rejects(client.waitForEvent('POWERDOWN', undefined, { timeoutMs: 30 }), (error: unknown) => {
        assert.ok(error instanceof QmpTimeoutError);
        assert.equal(error.operation, 'event POWERDOWN');
        return true;
      });
      assert.equal(client.listenerCount('event'), 0, 'the waiter unsubscribed');
      await client.stop();
    });

    it('logs sent and received lines, with passwords hidden', async () => {
      const logged: Array<[string, string]> = [];
      const { server, client } = await setup({ mode }, { logger: (direction, line) => logged.push([direction, line]) });
      await client.setPassword('vnc', 'hunter2');
      assert.equal(server.requests[0]?.arguments?.password, 'hunter2', 'QEMU gets the real password');
      const sent = logged.filter(([d]) => d === 'send').map(([, line]) => line);
      assert.equal(sent.length, 2);
      assert.match(sent[1] ?? '', /"set_password".*"password":"\*\*\*"/);
      assert.ok(!logged.some(([, line]) => line.includes('hunter2')));
      assert.ok(logged.some(([d, line]) => d === 'recv' && line.startsWith('{"QMP"')));
    });
  });
}

describe('QmpClient connection failures', () => {
  it('names the socket and the cause when the socket file does not exist', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qmpm-'));
    const path = join(dir, 'missing.sock');
    try {
      await assert.rejects(QmpClient.connect(path), (error: unknown) => {
        assert.ok(error instanceof QmpConnectError);
        assert.equal(error.code, 'ENOENT');
        assert.equal(error.socketPath, path);
        assert.match(error.message, /missing\.sock: no such file/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('times out connect when the peer never sends a greeting', async () => {
    const server = await FakeQmpServer.start({ mode: 'coalesced', greeting: null });
    started.push({ server });
    await assert.rejects(QmpClient.connect(server.socketPath, { timeoutMs: 50 }), (error: unknown) => {
      assert.ok(error instanceof QmpTimeoutError);
      assert.equal(error.operation, 'connect');
      return true;
    });
  });
});
