// The thin I/O shell over ldapts for one source: URLs in order, TLS, search as the bind account, bind as the user, nested groups.
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Client, InvalidCredentialsError, NoSuchObjectError, ResultCodeError, type Entry } from 'ldapts';
import { ArdesiaError } from '../contract/errors.js';
import { adAccountRefusal, adBindRefusal, REFUSAL_ERRORS } from './account-state.js';
import { type DirectorySourceConfig, loginAttributeOf, secretRead } from './config.js';
import { filterEscape, userFilterFor } from './names.js';

/** AD's LDAP_MATCHING_RULE_IN_CHAIN: every group the DN is in, through any depth of nesting. */
const IN_CHAIN = '1.2.840.113556.1.4.1941';
/** OpenLDAP nesting is followed level by level up to this depth (a loop in the groups stops at the visited set). */
const MAX_GROUP_DEPTH = 16;

export interface DirectoryEntry {
  source: string;
  dn: string;
  /** objectGUID (AD, as the usual text form) or entryUUID (OpenLDAP): survives renames and moves. */
  stableId: string;
  /** The value of the login attribute (jdoe). */
  login: string;
  displayName: string;
  keyboardLayout?: string;
  /** DNs of every group the entry is in, nested ones included. */
  groupDns: string[];
  attrs: Record<string, string | undefined>;
}

const first = (v: Entry[string] | undefined): string | undefined => {
  const x = Array.isArray(v) ? v[0] : v;
  return x === undefined ? undefined : Buffer.isBuffer(x) ? x.toString('utf8') : String(x);
};

/** objectGUID bytes → the text AD tools show (the first three fields little-endian). */
export function guidText(b: Buffer): string {
  const h = (i: number, n: number, le: boolean) => {
    const part = b.subarray(i, i + n);
    return Buffer.from(le ? [...part].reverse() : part).toString('hex');
  };
  return `${h(0, 4, true)}-${h(4, 2, true)}-${h(6, 2, true)}-${h(8, 2, false)}-${h(10, 6, false)}`;
}

/** A failure that says the server is not there (or TLS failed): try the next URL. Anything else is the server's answer. */
const isTransportFailure = (err: unknown): boolean => !(err instanceof ResultCodeError);

/** What a failed contact was, for the console's "Test connection". */
export type ContactProblem = 'unreachable' | 'tls' | 'bind-refused';
const TLS_FAILURE = /certificate|self[- ]signed|tls|ssl|handshake|altnames|hostname/i;
const problemOf = (err: unknown): ContactProblem => (TLS_FAILURE.test(`${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`) ? 'tls' : 'unreachable');

export class DirectorySource {
  /** `bindSecret`: a password typed in the console (kept in the store); otherwise the config's file:/env: reference is read. */
  constructor(
    readonly config: DirectorySourceConfig,
    private readonly bindSecret?: string,
  ) {}

  get name(): string {
    return this.config.name;
  }

  /** A fresh TLS options object every time: ldapts' startTLS writes into the one it is given. */
  private tlsOptions(): ConnectionOptions {
    const o: ConnectionOptions = { minVersion: 'TLSv1.2' };
    if (this.config.caFile) o.ca = readFileSync(this.config.caFile);
    if (this.config.tlsServerName) o.servername = this.config.tlsServerName;
    return o;
  }

  /** A connected client on the first URL that answers, bound as `dn` (the bind account when absent, or anonymous). */
  private async open(url: string, dn?: string, password?: string): Promise<Client> {
    const tls = url.toLowerCase().startsWith('ldaps://');
    const client = new Client({ url, timeout: this.config.timeoutMs, connectTimeout: this.config.timeoutMs, tlsOptions: tls ? this.tlsOptions() : undefined, strictDN: false });
    try {
      if (!tls && this.config.startTls) await client.startTLS(this.tlsOptions());
      if (dn !== undefined) await client.bind(dn, password);
      return client;
    } catch (err) {
      await client.unbind().catch(() => undefined);
      throw err;
    }
  }

  /** Runs `work` with a client bound as the search account on the first URL that answers; DIRECTORY_UNREACHABLE when none does. */
  private async asSearcher<T>(work: (client: Client, url: string) => Promise<T>): Promise<T> {
    const failures: string[] = [];
    let problem: ContactProblem = 'unreachable';
    for (const url of this.config.urls) {
      let client: Client;
      try {
        const bind = this.config.bind;
        client = bind ? await this.open(url, bind.dn, this.bindSecret ?? secretRead(bind.password)) : await this.open(url);
        // Anonymous: ldapts connects on the first operation; a root DSE read proves the server is there.
        if (!bind) await client.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['namingContexts'] });
      } catch (err) {
        if (err instanceof InvalidCredentialsError) {
          throw new ArdesiaError('DIRECTORY_UNREACHABLE', `directory ${this.name}: the server at ${url} refused the bind account ${this.config.bind?.dn}`, { problem: 'bind-refused' }, 'Check the bind DN and its password in the directory configuration (or the file/env it names).');
        }
        failures.push(`${url}: ${(err as Error).message}`);
        if (problemOf(err) === 'tls') problem = 'tls'; // a TLS failure says more than a dead URL before it
        if (isTransportFailure(err)) continue;
        break;
      }
      try {
        return await work(client, url);
      } finally {
        await client.unbind().catch(() => undefined);
      }
    }
    throw new ArdesiaError('DIRECTORY_UNREACHABLE', `the directory ${this.name} cannot be reached (${failures.join('; ')})`, { problem });
  }

  private userAttributes(): string[] {
    const c = this.config;
    const stable = c.kind === 'ad' ? 'objectGUID' : 'entryUUID';
    const extra = c.kind === 'ad' ? ['userAccountControl', 'accountExpires', 'pwdLastSet', 'sAMAccountName', 'userPrincipalName'] : [];
    return [stable, loginAttributeOf(c), 'displayName', 'cn', ...extra, ...(c.keyboardLayoutAttribute ? [c.keyboardLayoutAttribute] : [])];
  }

  private async findIn(client: Client, filter: string): Promise<Entry | undefined> {
    const { searchEntries } = await client.search(this.config.userBase, { scope: 'sub', filter, attributes: this.userAttributes(), sizeLimit: 2, explicitBufferAttributes: ['objectGUID'] });
    // Two entries for one typed name is a directory mistake; refusing beats guessing which person it is.
    return searchEntries.length === 1 ? searchEntries[0] : undefined;
  }

  private async groupsOf(client: Client, dn: string): Promise<string[]> {
    const base = this.config.groupBase;
    if (this.config.kind === 'ad') {
      const { searchEntries } = await client.search(base, { scope: 'sub', filter: `(&(objectClass=group)(member:${IN_CHAIN}:=${filterEscape(dn)}))`, attributes: ['cn'] });
      return searchEntries.map((e) => e.dn).sort();
    }
    const found = new Map<string, string>(); // lower-case DN → DN as the server wrote it
    let level = [dn];
    for (let depth = 0; depth < MAX_GROUP_DEPTH && level.length; depth++) {
      const members = level.map((d) => `(member=${filterEscape(d)})(uniqueMember=${filterEscape(d)})`).join('');
      const { searchEntries } = await client.search(base, { scope: 'sub', filter: `(&(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))(|${members}))`, attributes: ['cn'] });
      const next: string[] = [];
      for (const g of searchEntries.map((e) => e.dn)) {
        if (found.has(g.toLowerCase())) continue;
        found.set(g.toLowerCase(), g);
        next.push(g);
      }
      level = next;
    }
    return [...found.values()].sort();
  }

  private entryOf(e: Entry, groupDns: string[]): DirectoryEntry {
    const c = this.config;
    const raw = c.kind === 'ad' ? e.objectGUID : e.entryUUID;
    const id = Array.isArray(raw) ? raw[0] : raw;
    const stableId = Buffer.isBuffer(id) && c.kind === 'ad' ? guidText(id) : first(raw);
    if (!stableId) {
      const attr = c.kind === 'ad' ? 'objectGUID' : 'entryUUID';
      throw new ArdesiaError('DIRECTORY_UNREACHABLE', `directory ${this.name}: ${e.dn} has no ${attr} the bind account may read`, undefined, `Give the bind account read access to ${attr}: Ardesia binds each directory user to it.`);
    }
    const attrs: Record<string, string | undefined> = {};
    for (const a of ['userAccountControl', 'accountExpires', 'pwdLastSet', 'sAMAccountName', 'userPrincipalName']) attrs[a] = first(e[a]);
    return {
      source: this.name,
      dn: e.dn,
      stableId,
      login: first(e[loginAttributeOf(c)]) ?? '',
      displayName: first(e.displayName) ?? first(e.cn) ?? '',
      keyboardLayout: c.keyboardLayoutAttribute ? first(e[c.keyboardLayoutAttribute]) : undefined,
      groupDns,
      attrs,
    };
  }

  /** Whether a typed name can belong to this source at all (its form and realm). */
  serves(typed: string): boolean {
    return userFilterFor(typed, { kind: this.config.kind, loginAttribute: loginAttributeOf(this.config), realms: this.config.realms, userFilter: this.config.userFilter }) !== undefined;
  }

  /** The entry and groups of a typed name, without its password (for `directory test`); undefined when there is none. */
  async lookup(typed: string): Promise<DirectoryEntry | undefined> {
    const filter = userFilterFor(typed, { kind: this.config.kind, loginAttribute: loginAttributeOf(this.config), realms: this.config.realms, userFilter: this.config.userFilter });
    if (!filter) return undefined;
    return this.asSearcher(async (client) => {
      const e = await this.findIn(client, filter);
      return e ? this.entryOf(e, await this.groupsOf(client, e.dn)) : undefined;
    });
  }

  /** The entry found again by its stable id (sync): undefined when it was removed. */
  async lookupById(stableId: string): Promise<DirectoryEntry | undefined> {
    return this.asSearcher(async (client) => {
      let e: Entry | undefined;
      if (this.config.kind === 'ad') {
        // AD's extended DN names an object by GUID wherever it moved; a GUID in a filter would need raw bytes.
        if (!/^[0-9a-f-]{36}$/i.test(stableId)) return undefined;
        try {
          const { searchEntries } = await client.search(`<GUID=${stableId}>`, { scope: 'base', filter: '(objectClass=user)', attributes: this.userAttributes(), explicitBufferAttributes: ['objectGUID'] });
          e = searchEntries[0];
        } catch (err) {
          if (err instanceof NoSuchObjectError) return undefined;
          throw err;
        }
      } else e = await this.findIn(client, `(entryUUID=${filterEscape(stableId)})`);
      return e ? this.entryOf(e, await this.groupsOf(client, e.dn)) : undefined;
    });
  }

  /** How many user entries the source has (the console's "users found"). */
  async userCount(): Promise<number> {
    const base = this.config.userFilter ?? (this.config.kind === 'ad' ? '(&(objectCategory=person)(objectClass=user))' : '(objectClass=inetOrgPerson)');
    return this.asSearcher(async (client) => (await client.search(this.config.userBase, { scope: 'sub', filter: base, attributes: ['1.1'], paged: { pageSize: 500 } })).searchEntries.length);
  }

  /**
   * A password login: the entry, then a bind as it on the same server (never a cached password); throws LOGIN_FAILED,
   * a DIRECTORY_ACCOUNT_* refusal, or DIRECTORY_UNREACHABLE. Undefined when this source has no such user.
   */
  async authenticate(typed: string, password: string, nowMs: number): Promise<DirectoryEntry | undefined> {
    const filter = userFilterFor(typed, { kind: this.config.kind, loginAttribute: loginAttributeOf(this.config), realms: this.config.realms, userFilter: this.config.userFilter });
    if (!filter) return undefined;
    return this.asSearcher(async (client, url) => {
      const e = await this.findIn(client, filter);
      if (!e) return undefined;
      let userClient: Client | undefined;
      try {
        userClient = await this.open(url, e.dn, password);
      } catch (err) {
        if (err instanceof InvalidCredentialsError) {
          const refusal = this.config.kind === 'ad' ? adBindRefusal(err.message) : undefined;
          if (refusal) throw new ArdesiaError(REFUSAL_ERRORS[refusal].code, REFUSAL_ERRORS[refusal].message);
          throw new ArdesiaError('LOGIN_FAILED', 'wrong user name or password');
        }
        if (isTransportFailure(err)) throw new ArdesiaError('DIRECTORY_UNREACHABLE', `the directory ${this.name} cannot be reached (${url}: ${(err as Error).message})`);
        throw err;
      } finally {
        await userClient?.unbind().catch(() => undefined);
      }
      // The bind proved the password; the entry's own state is checked too, as not every server refuses the bind.
      const entry = this.entryOf(e, await this.groupsOf(client, e.dn));
      const refusal = this.config.kind === 'ad' ? adAccountRefusal(entry.attrs, nowMs) : undefined;
      if (refusal) throw new ArdesiaError(REFUSAL_ERRORS[refusal].code, REFUSAL_ERRORS[refusal].message);
      return entry;
    });
  }
}
