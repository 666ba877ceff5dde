// `ardesia agent` joins a controller: a real controller (PostgreSQL store, HTTPS) and agents, each in a network
// namespace the test creates, over real TLS. Outcomes and their order are asserted, never timing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { AGENT_PROTOCOL_VERSION, joinTokenEncode, joinTokenParse } from '../../src/contract/agent.js';
import type { HostView } from '../../src/contract/hosts.js';
import { NetLab } from '../netboot/lab.js';
import { runCli, TestDaemon, until } from '../helpers/daemon.js';
import { AgentProc } from '../helpers/agent-proc.js';
import { freshDatabaseForNamespaces } from '../helpers/postgres.js';
import { type OpenApiDoc, schemaProblems } from '../api/responses-support.js';
import { hostRoutes } from '../../src/api/routes-hosts.js';

const NET = '10.251.7';
const CONTROLLER = `https://${NET}.1:8443`;

let lab: NetLab;
let database: string;
let controller: TestDaemon;
const agents: AgentProc[] = [];
const dirs: string[] = [];
const nsOf: Record<string, string> = {};

const cli = (args: string[]) => runCli(controller.dataDir, args);
async function hosts(): Promise<HostView[]> {
  const r = await cli(['--json', 'host', 'list']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as HostView[];
}
async function tokenFor(host: string, extra: string[] = []): Promise<string> {
  const r = await cli(['--json', 'host', 'add', host, ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { token: string }).token;
}
function agentStart(ns: string, dataDir: string, args: string[]): AgentProc {
  const a = new AgentProc(ns, dataDir, args);
  agents.push(a);
  return a;
}
const linked = (name: string) => async () => (await hosts()).find((h) => h.name === name && h.agent?.ready === true && h.state === 'up');
// Unlinked is not down: the host turns suspect once its heartbeats are a minute old (never down on network silence).
const unlinked = (name: string) => async () => (await hosts()).find((h) => h.name === name && h.agent?.linked === false && h.state !== 'down');
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ard-agent-'));
  dirs.push(d);
  return d;
}

before(async () => {
  lab = await NetLab.create('ag');
  for (const [name, last] of [['ctl', 1], ['a1', 2], ['a2', 3], ['a3', 4]] as const) nsOf[name] = await lab.addHost(name, `${NET}.${last}/24`);
  database = (await freshDatabaseForNamespaces()).viaSocket;
  controller = new TestDaemon(tempDir(), ['--listen', `${NET}.1:8443`, '--host-name', 'ctl', '--database', database], nsOf.ctl);
  await controller.spawn();
});

after(async () => {
  for (const a of agents) await a.kill();
  await controller?.destroy().catch(() => undefined);
  await lab?.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('two agents join with their tokens and show up in host list with their capacity', async () => {
  const t1 = await tokenFor('a1');
  const t2 = await tokenFor('a2');
  assert.equal(joinTokenParse(t1).url, CONTROLLER);
  agentStart(nsOf.a1!, tempDir(), ['--controller', CONTROLLER, '--join', t1]);
  agentStart(nsOf.a2!, tempDir(), ['--join', t2]);
  const a1 = await until('a1 linked', linked('a1'));
  await until('a2 linked', linked('a2'));
  assert.ok(a1.capacity.memoryMiB > 0 && a1.capacity.vcpus > 0, JSON.stringify(a1.capacity));
  assert.ok(a1.agent && ['kvm', 'tcg'].includes(a1.agent.accel) && a1.agent.version.length > 0);
  assert.equal(a1.controller, false);
  // A heartbeat after the hello carries the load.
  await until('a1 heartbeat with load', async () => (await hosts()).find((h) => h.name === 'a1' && h.agent?.load !== null));
  const text = await cli(['host', 'list']);
  assert.match(text.stdout, /a1\s+up\s.*linked (kvm|tcg)/);
  assert.match(text.stdout, /ctl \*\s+up\s.*embedded/);
  assert.equal(statSync(join(agents[0]!.dataDir, 'agent.json')).mode & 0o777, 0o600);
});

test('the join-token and join replies match the OpenAPI document and the routes\' own schemas', async () => {
  const api = controller.api();
  const doc = await api.request<OpenApiDoc>('GET', '/v1/openapi.json');
  const check = (method: 'POST', url: string, body: unknown) => {
    const schema = doc.paths[url.replace(/:([A-Za-z]+)/g, '{$1}')]?.[method.toLowerCase()]?.responses['200']?.content?.['application/json']?.schema;
    assert.ok(schema, `${method} ${url} is not documented`);
    assert.deepEqual(schemaProblems(schema, body), [], `${method} ${url}`);
    assert.ok(hostRoutes.find((r) => r.method === method && r.url === url)!.response!.safeParse(body).success, `${method} ${url}: its own schema`);
  };
  const issued = await api.request<{ token: string }>('POST', '/v1/hosts/doc1/join-token', { validSeconds: 60 });
  check('POST', '/v1/hosts/:name/join-token', issued);
  const t = joinTokenParse(issued.token);
  const joined = await api.request('POST', '/v1/agent/join', { protocol: AGENT_PROTOCOL_VERSION, host: 'doc1', id: t.id, secret: t.secret });
  check('POST', '/v1/agent/join', joined);
  assert.equal((await cli(['host', 'remove', 'doc1'])).code, 0);
});

test('a join token used twice is refused, and the agent says why', async () => {
  const t = await tokenFor('a3');
  const first = agentStart(nsOf.a3!, tempDir(), ['--join', t]);
  await until('a3 linked', linked('a3'));
  await first.kill('SIGTERM');
  const again = agentStart(nsOf.a3!, tempDir(), ['--join', t]);
  assert.equal(await again.exited, 2);
  assert.match(again.output, /AGENT_JOIN_TOKEN_REFUSED: .*was used already/);
});

test('an expired token is refused', async () => {
  const t = await tokenFor('late');
  // Expiry is judged by the database's clock: the row is moved into the past rather than waited for.
  const client = new pg.Client({ connectionString: database });
  await client.connect();
  await client.query(`update host_join_tokens set expires_at = '2000-01-01T00:00:00.000Z' where id = $1`, [joinTokenParse(t).id]);
  await client.end();
  const a = agentStart(nsOf.a3!, tempDir(), ['--join', t]);
  assert.equal(await a.exited, 2);
  assert.match(a.output, /AGENT_JOIN_TOKEN_REFUSED: .*expired at 2000-01-01/);
  assert.equal((await hosts()).some((h) => h.name === 'late'), false);
});

test("a token whose fingerprint is not the controller's: the agent refuses to connect and sends nothing", async () => {
  const t = await tokenFor('pinned');
  const content = joinTokenParse(t);
  const wrong = joinTokenEncode({ ...content, fp: content.fp.split(':').reverse().join(':') });
  const a = agentStart(nsOf.a3!, tempDir(), ['--join', wrong]);
  assert.equal(await a.exited, 2);
  assert.match(a.output, /AGENT_CONTROLLER_MISMATCH: .*not the controller's/);
  // The secret never reached the controller: the genuine token still works, once.
  const ok = agentStart(nsOf.a3!, tempDir(), ['--join', t]);
  await until('pinned linked', linked('pinned'));
  await ok.kill('SIGTERM');
});

test('an agent killed and restarted reconnects with its saved credential, no token', async () => {
  const a1 = agents[0]!;
  await a1.kill('SIGKILL');
  await until('a1 unlinked', unlinked('a1'));
  const again = agentStart(nsOf.a1!, a1.dataDir, []);
  await until('a1 linked again', linked('a1'));
  assert.doesNotMatch(again.output, /joined the controller/);
});

test('the controller restarted: the agents reconnect by themselves', async () => {
  await controller.kill('SIGTERM');
  await controller.spawn();
  await until('a1 back', linked('a1'));
  await until('a2 back', linked('a2'));
});

test('a host cut off without a FIN: the controller unlinks it, and the agent dials again once the network is back', async () => {
  await lab.exec(nsOf.a1!, 'ip', ['link', 'set', 'eth0', 'down']);
  await until('a1 unlinked by silence', unlinked('a1'), 120_000);
  await lab.exec(nsOf.a1!, 'ip', ['link', 'set', 'eth0', 'up']);
  await until('a1 linked after the cut', linked('a1'), 120_000);
  assert.match(agents.at(-1)!.output, /stopped answering heartbeats/);
});

test("host remove revokes the agent's credential: its link ends and its next connect is refused", async () => {
  const a2 = agents[1]!;
  const r = await cli(['host', 'remove', 'a2']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await a2.exited, 2);
  assert.match(a2.output, /AGENT_CREDENTIAL_REFUSED: .*removed/);
  const again = agentStart(nsOf.a2!, a2.dataDir, []);
  assert.equal(await again.exited, 2);
  assert.match(again.output, /AGENT_CREDENTIAL_REFUSED: .*not known/);
  assert.equal((await hosts()).some((h) => h.name === 'a2'), false);
});

test('a controller on SQLite refuses remote agents and says --database postgres:// is needed', async () => {
  const sqlite = new TestDaemon(tempDir(), ['--listen', `${NET}.4:8443`, '--host-name', 'solo'], nsOf.a3);
  await sqlite.spawn();
  try {
    const add = await runCli(sqlite.dataDir, ['host', 'add', 'x']);
    assert.notEqual(add.code, 0);
    assert.match(add.stderr, /SQLite.*--database postgres:\/\//);
    // An agent dialling it (with a token naming it) is refused by the exchange, with the same reason.
    const fp = /HTTPS certificate SHA-256 fingerprint ([0-9A-F:]+)/.exec(sqlite.output)![1]!;
    const forged = joinTokenEncode({ v: 1, url: `https://${NET}.4:8443`, fp, host: 'x', id: 'abcdefghijklmnop', secret: 'B'.repeat(43) });
    const a = agentStart(nsOf.a1!, tempDir(), ['--join', forged]);
    assert.equal(await a.exited, 2);
    assert.match(a.output, /AGENT_NEEDS_POSTGRES: .*SQLite/);
  } finally {
    await sqlite.destroy();
  }
});
