import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorOfAnswer, unreachable } from './client.js';

const errno = (code: string) => Object.assign(new Error(`connect ${code} /x.sock`), { code });

test('a connection failure: EACCES on the socket says the daemon runs; ENOENT and ECONNREFUSED say start it', () => {
  const socket = { socketPath: '/var/lib/ardesia/ardesia.sock' };
  for (const code of ['EACCES', 'EPERM']) {
    const e = unreachable(socket, errno(code));
    assert.equal(e.code, 'DAEMON_SOCKET_DENIED');
    assert.match(e.hint, /The daemon runs/);
  }
  for (const code of ['ENOENT', 'ECONNREFUSED']) {
    const e = unreachable(socket, errno(code));
    assert.equal(e.code, 'DAEMON_UNREACHABLE');
    assert.match(e.hint, /Start the daemon/);
    assert.match(e.message, new RegExp(code));
  }
  assert.equal(unreachable({ url: 'http://10.0.0.5:8080' }, errno('EACCES')).code, 'DAEMON_UNREACHABLE', 'EACCES over TCP is no socket permission');
});

test("an error answer keeps the daemon's code, message and hint; a page from another server is no Ardesia error", () => {
  const body = { error: { code: 'FORBIDDEN', message: 'only an administrator may create a pool', hint: 'Only an administrator may do this: ask one.' } };
  const e = errorOfAnswer(403, body, JSON.stringify(body));
  assert.deepEqual([e.code, e.message, e.hint], ['FORBIDDEN', body.error.message, body.error.hint]);
  const other = errorOfAnswer(502, '<html>Bad Gateway</html>', '<html>Bad Gateway</html>');
  assert.equal(other.code, 'DAEMON_UNREACHABLE');
  assert.match(other.message, /HTTP 502/);
});
