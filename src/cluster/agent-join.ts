// Join tokens (`ardesia host add`) and their one exchange for an agent's own credential (POST /v1/agent/join).
// Only SHA-256s of secrets are stored; a token works once and until it expires, both judged in one transaction.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { auditAppend } from '../audit/log.js';
import { AGENT_PROTOCOL_VERSION, type AgentJoinReply, type AgentJoinRequest, joinTokenEncode } from '../contract/agent.js';
import { ArdesiaError } from '../contract/errors.js';
import { dialectOf } from '../store/dialect.js';
import type { Store } from '../store/db.js';
import { dbNow } from './db-clock.js';
import { DEFAULT_CPU_OVERCOMMIT, DEFAULT_MEMORY_OVERCOMMIT, type HostCaller } from './hosts.js';

export const JOIN_TOKEN_DEFAULT_TTL_MS = 15 * 60_000;
export const JOIN_TOKEN_MAX_TTL_MS = 7 * 24 * 3600_000;
const CREDENTIAL_PREFIX = 'ardesia-agent.';

export const sha256Hex = (text: string): string => createHash('sha256').update(text).digest('hex');
const secret = (): string => randomBytes(32).toString('base64url');

/** Where agents reach the controller: its HTTPS URL and its certificate's fingerprint, known once it listens. */
export interface ControllerEndpoint {
  url: string;
  fingerprint: string;
}

export interface JoinTokenIssued {
  host: string;
  token: string;
  expiresAt: string;
  controller: string;
  fingerprint: string;
}

/** With SQLite the cluster state lives in one host's file: remote agents need the shared PostgreSQL store. */
export function requireClusterStore(db: Store): void {
  if (dialectOf(db) !== 'postgres') {
    throw new ArdesiaError('AGENT_NEEDS_POSTGRES', 'this controller keeps its state in SQLite (one host only): remote agents need `ardesia serve --database postgres://…`');
  }
}

export class AgentJoin {
  private endpoint: ControllerEndpoint | undefined;

  constructor(private readonly db: Store, private readonly controllerHost: string) {}

  /** Called once the controller listens with HTTPS (serve --listen … with TLS). */
  setEndpoint(endpoint: ControllerEndpoint): void {
    this.endpoint = endpoint;
  }

  async tokenIssue(host: string, ttlMs: number, who: HostCaller): Promise<JoinTokenIssued> {
    requireClusterStore(this.db);
    const endpoint = this.endpoint;
    if (!endpoint) throw new ArdesiaError('AGENT_CONTROLLER_NO_HTTPS', 'this controller has no HTTPS listener for agents to dial (serve --listen ADDR:PORT)');
    if (host === this.controllerHost || (await this.db.selectFrom('hosts').select('name').where('name', '=', host).executeTakeFirst())) {
      throw new ArdesiaError('AGENT_HOST_EXISTS', `host ${host} is in the cluster already`);
    }
    const id = randomBytes(12).toString('base64url');
    const s = secret();
    const now = await dbNow(this.db);
    const expiresAt = new Date(Date.parse(now) + ttlMs).toISOString();
    await this.db.insertInto('host_join_tokens').values({ id, host, secret_sha256: sha256Hex(s), expires_at: expiresAt, used_at: null, created_by: who.name, created_at: now }).execute();
    await auditAppend(this.db, who.name, 'host.join-token', host, { id, expiresAt }, who.address);
    const token = joinTokenEncode({ v: 1, url: endpoint.url, fp: endpoint.fingerprint, host, id, secret: s });
    return { host, token, expiresAt, controller: endpoint.url, fingerprint: endpoint.fingerprint };
  }

  /** The token's one use: the host's row with the hash of a new credential; the credential itself goes to the agent only. */
  async exchange(req: AgentJoinRequest, address: string | undefined): Promise<AgentJoinReply> {
    requireClusterStore(this.db);
    if (req.protocol !== AGENT_PROTOCOL_VERSION) throw new ArdesiaError('AGENT_PROTOCOL_MISMATCH', `the agent speaks protocol ${req.protocol}, this controller ${AGENT_PROTOCOL_VERSION}`);
    const credential = CREDENTIAL_PREFIX + secret();
    const refused = (why: string) => new ArdesiaError('AGENT_JOIN_TOKEN_REFUSED', `the join token for host ${req.host} ${why}`);
    await this.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('host_join_tokens').selectAll().where('id', '=', req.id).forUpdate().executeTakeFirst();
      const given = Buffer.from(sha256Hex(req.secret));
      if (!row || row.host !== req.host || !timingSafeEqual(given, Buffer.from(row.secret_sha256))) throw refused('is not one this controller issued');
      if (row.used_at !== null) throw refused(`was used already (at ${row.used_at})`);
      const now = await dbNow(tx);
      if (Date.parse(row.expires_at) <= Date.parse(now)) throw refused(`expired at ${row.expires_at}`);
      await tx.updateTable('host_join_tokens').set({ used_at: now }).where('id', '=', req.id).execute();
      if (await tx.selectFrom('hosts').select('name').where('name', '=', req.host).executeTakeFirst()) throw new ArdesiaError('AGENT_HOST_EXISTS', `host ${req.host} is in the cluster already`);
      // Down until its agent's hello: no capacity is known before it.
      await tx
        .insertInto('hosts')
        .values({ name: req.host, state: 'down', labels: '[]', labels_from: 'api', memory_mib: 0, vcpus: 0, memory_overcommit: DEFAULT_MEMORY_OVERCOMMIT, cpu_overcommit: DEFAULT_CPU_OVERCOMMIT, heartbeat_at: new Date(0).toISOString(), agent_credential_sha256: sha256Hex(credential), cert_fingerprint: null, created_at: now, updated_at: now })
        .execute();
      await auditAppend(tx, `agent:${req.host}`, 'host.join', req.host, { token: req.id }, address);
    });
    return { host: req.host, credential };
  }

  /** The host a credential belongs to, or undefined (never joined, or removed since). */
  async hostOfCredential(credential: string): Promise<string | undefined> {
    if (!credential.startsWith(CREDENTIAL_PREFIX)) return undefined;
    const row = await this.db.selectFrom('hosts').select('name').where('agent_credential_sha256', '=', sha256Hex(credential)).executeTakeFirst();
    return row?.name;
  }
}
