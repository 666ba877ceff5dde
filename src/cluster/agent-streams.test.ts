import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { ControllerStreamOpen } from '../contract/agent.js';
import type { ArdesiaError } from '../contract/errors.js';
import type { AgentJoin } from './agent-join.js';
import type { AgentLinks, StreamFailedHandler, StreamLinkHooks } from './agent-links.js';
import { AgentStreams, type PendingStream, streamClaimProblem } from './agent-streams.js';

const secret = 'k'.repeat(43);
const pending: PendingStream = { host: 'a1', vm: 'v1', secretSha256: createHash('sha256').update(secret).digest(), expiresAt: 1_000 };

test('a stream is claimed only by its own host, with its secret, before it expires', () => {
  const rows: Array<[string, PendingStream | undefined, string, string, number, RegExp | undefined]> = [
    ['its host, its secret, in time', pending, 'a1', secret, 999, undefined],
    ['at the last millisecond', pending, 'a1', secret, 1_000, undefined],
    ['late', pending, 'a1', secret, 1_001, /not dialled in time/],
    ['another host', pending, 'a2', secret, 0, /for host a1's agent, not a2's/],
    ['a wrong secret', pending, 'a1', 'j'.repeat(43), 0, /secret is wrong/],
    ['a secret of another length', pending, 'a1', 'short', 0, /secret is wrong/],
    ['nothing waiting (used or never asked)', undefined, 'a1', secret, 0, /no such stream is waiting/],
  ];
  for (const [why, p, host, s, now, want] of rows) {
    const problem = streamClaimProblem(p, host, s, now);
    if (want === undefined) assert.equal(problem, undefined, why);
    else assert.match(problem ?? '', want, why);
  }
});

/** The controller's side with its link and credentials faked: what it asks the agent, and what it does with dials. */
function bed() {
  const sent: Array<{ host: string; m: ControllerStreamOpen }> = [];
  let hooks: StreamLinkHooks | undefined;
  const links = { attachStreams: (h: StreamLinkHooks) => (hooks = h), sendTo: (host: string, m: ControllerStreamOpen) => (sent.push({ host, m }), host !== 'offline') };
  const join = { hostOfCredential: async (c: string) => ({ 'cred-a1': 'a1', 'cred-a2': 'a2' })[c] };
  const log = { warn: () => undefined } as unknown as Logger;
  const streams = new AgentStreams(links as unknown as AgentLinks, join as unknown as AgentJoin, log);
  const socket = () => {
    const onClose: Array<() => void> = [];
    const s = {
      closed: undefined as [number, string] | undefined,
      terminated: false,
      close: (code: number, reason: string) => void (s.closed = [code, reason]),
      terminate: () => {
        s.terminated = true;
        for (const f of onClose.splice(0)) f();
      },
      once: (event: string, f: () => void) => void (event === 'close' && onClose.push(f)),
      pause: () => undefined,
      resume: () => undefined,
    };
    return s;
  };
  const dial = async (credential: string, header: string | undefined) => {
    const s = socket();
    await streams.accept(s as unknown as WebSocket, `Bearer ${credential}`, header);
    return s;
  };
  return { streams, sent, dial, failed: (host: string, m: Parameters<StreamFailedHandler>[1]) => hooks!.failed(host, m), silent: (host: string) => hooks!.silent(host) };
}

test("a dialled stream is handed over once: a reused, wrong or another agent's claim is refused", async () => {
  const b = bed();
  const opening = b.streams.open('a1', 'v1', 'console', 100);
  const { host, m } = b.sent[0]!;
  assert.deepEqual([host, m.type, m.vm, m.kind, m.replay], ['a1', 'stream-open', 'v1', 'console', 100]);
  const header = `${m.id}.${m.secret}`;
  const first = await b.dial('cred-a1', header);
  assert.equal(first.closed, undefined);
  assert.equal(await opening, first, 'the dialled socket is the one handed over');
  const reused = await b.dial('cred-a1', header);
  assert.deepEqual(reused.closed, [4401, 'AGENT_STREAM_REFUSED no such stream is waiting (never asked for, or already used)']);

  const other = b.streams.open('a1', 'v1', 'display');
  const o = b.sent[1]!.m;
  const stolen = await b.dial('cred-a2', `${o.id}.${o.secret}`);
  assert.match(stolen.closed?.[1] ?? '', /for host a1's agent, not a2's/);
  await assert.rejects(other, /AGENT_STREAM_REFUSED|was refused/, 'the claim ended the wait: the secret is single-use');

  const wrong = b.streams.open('a1', 'v1', 'display');
  const w = b.sent[2]!.m;
  assert.match((await b.dial('cred-a1', `${w.id}.${'x'.repeat(43)}`)).closed?.[1] ?? '', /secret is wrong/);
  await assert.rejects(wrong, /secret is wrong/);
  assert.match((await b.dial('cred-a1', `${w.id}.${w.secret}`)).closed?.[1] ?? '', /no such stream/, 'not even the right secret after a wrong one');

  assert.match((await b.dial('nobody', header)).closed?.[1] ?? '', /credential is not known/);
  assert.match((await b.dial('cred-a1', 'garbage')).closed?.[1] ?? '', /header is missing or malformed/);
});

test("the agent's failure ends the wait with its code; another host's report of it is ignored; no link is refused at once", async () => {
  const b = bed();
  const opening = b.streams.open('a1', 'v9', 'console');
  const { m } = b.sent[0]!;
  b.failed('a2', { type: 'stream-failed', id: m.id, code: 'VM_NOT_RUNNING', message: 'not here' });
  b.failed('a1', { type: 'stream-failed', id: m.id, code: 'VM_NOT_RUNNING', message: 'vm v9 does not run on host a1' });
  await assert.rejects(opening, (err: ArdesiaError) => err.code === 'VM_NOT_RUNNING' && /does not run on host a1/.test(err.message));
  await assert.rejects(b.streams.open('offline', 'v1', 'display'), (err: ArdesiaError) => err.code === 'AGENT_NOT_LINKED');
});

test("a host's link gone silent cuts its handed-over streams, telling the takers that asked; other hosts' streams stay", async () => {
  const b = bed();
  const handOver = async (host: string, credential: string) => {
    const opening = b.streams.open(host, 'v1', 'display');
    const { m } = b.sent.at(-1)!;
    const s = await b.dial(credential, `${m.id}.${m.secret}`);
    await opening;
    return s;
  };
  const told = await handOver('a1', 'cred-a1');
  const quiet = await handOver('a1', 'cred-a1');
  const elsewhere = await handOver('a2', 'cred-a2');
  const reasons: string[] = [];
  b.streams.onUnreachable(told as unknown as WebSocket, (err) => reasons.push(`${err.code} ${err.message}`));
  const unregister = b.streams.onUnreachable(elsewhere as unknown as WebSocket, () => reasons.push('a2 told'));
  unregister();
  b.silent('a1');
  assert.deepEqual([told.terminated, quiet.terminated, elsewhere.terminated], [true, true, false]);
  assert.equal(reasons.length, 1);
  assert.match(reasons[0]!, /^AGENT_NOT_LINKED host a1 cannot be reached from the controller now/);
  b.silent('a1');
  assert.equal(reasons.length, 1, 'a cut stream is forgotten');
  b.silent('a2');
  assert.deepEqual(reasons, [reasons[0]], 'an unregistered taker is not told');
  assert.equal(elsewhere.terminated, true);
});
